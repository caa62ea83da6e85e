#include <algorithm>
// `neurosweep refine` (run/refine.hpp): refinement of a grid database where labels change.
// Positions are integers on the finest lattice (2^depth steps per grid spacing), so a point's
// level and its neighbours are exact; a point's parameters are those a grid 2^depth times finer
// would have (linspace/logspace: the same formula at the fractional index, so the values equal
// those of the finer spec bit for bit; explicit values: linear between the two neighbours).
#include "run/refine.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"
#include "store/database.hpp"

namespace ns {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Coord = std::vector<uint64_t>;  // per refined axis: position on the finest lattice

struct RefAxis {
  size_t axis = 0;                  // position in the spec's axes
  std::string name, param;
  uint64_t size = 0;
  bool log = false, spaced = false;  // linspace/logspace, else explicit values
  double start = 0, stop = 0;
  std::vector<double> values;
};

// Parameter value at fractional grid index x / S (docs/FORMAT.md section 5).
double axis_value(const RefAxis& g, uint64_t x, uint64_t S) {
  if (!g.spaced) {
    const uint64_t i = x / S, r = x % S;
    if (r == 0) return g.values[i];
    return g.values[i] + (g.values[i + 1] - g.values[i]) * (static_cast<double>(r) / static_cast<double>(S));
  }
  // spec_detail.cpp spaced(): t = j / (count - 1), u = la + (lb - la) t; here j = x / S.
  const double t = static_cast<double>(x) / (static_cast<double>(g.size - 1) * static_cast<double>(S));
  const double la = g.log ? std::log(g.start) : g.start, lb = g.log ? std::log(g.stop) : g.stop;
  const double u = la + (lb - la) * t;
  return g.log ? std::exp(u) : u;
}

// Removes what refine writes into its work directory (level specs, level builds, the final
// temporary file), then the directory when empty; anything else stays.
void remove_work(const std::string& work) {
  std::error_code ec;
  std::vector<fs::path> mine;
  for (const auto& e : fs::directory_iterator(work, ec)) {
    const std::string n = e.path().filename().string();
    if (n == "final.h5.tmp" || n.rfind("level-", 0) == 0) mine.push_back(e.path());
  }
  for (const auto& p : mine) fs::remove_all(p, ec);
  fs::remove(work, ec);
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

int run_refine(const RefineOptions& o) {
  const std::string head = "refine " + o.db + ": ";
  if (o.depth < 1 || o.depth > 16)
    throw SpecError("--depth " + std::to_string(o.depth) + ": expected 1 to 16 levels of refinement");
  if (o.out.empty()) throw SpecError("-o: an output path is required");
  std::error_code ec;
  if (fs::exists(o.out, ec) && fs::exists(o.db, ec) && fs::equivalent(o.out, o.db, ec))
    throw SpecError("-o " + o.out + ": is the database being refined; write the refined database to another file");
  const DbSummary s = inspect(o.db);  // DatabaseError naming the file when not a database
  if (s.state != "complete")
    throw SpecError(head + "is a " + s.state + " database; finish (run --resume) or merge it first");
  const auto sp = s.attrs.find("spec");
  if (sp == s.attrs.end() || !std::holds_alternative<std::string>(sp->second))
    throw SpecError(head + "has no stored spec (root attribute 'spec')");
  const std::string& text = std::get<std::string>(sp->second);
  if (text.find('\n') != std::string::npos)
    throw SpecError(head + "its spec names a parameter_file, which refine does not support yet (put the values in 'fixed')");
  const json raw = json::parse(text);
  const RunSpec spec = parse_spec(raw, o.db);
  if (std::any_of(spec.starts.begin(), spec.starts.end(), [](const StartSpec& st) { return st.kind == InitialKind::kDatabase; }))
    throw SpecError(head + "starts from another database's final states (initial.from_database or a database start on a start axis), which refine cannot "
                           "give the new points");
  if (spec.sweep.combine() != Combine::kProduct || spec.sweep.axes().empty())
    throw SpecError(head + "is not a grid database (combine \"sample\" or no axes); refine needs grid axes");
  std::vector<RefAxis> ax;
  for (size_t a = 0; a < spec.sweep.axes().size(); ++a) {
    const AxisInfo& ai = spec.sweep.axes()[a];
    if (ai.kind != AxisKind::kGrid)
      throw SpecError(head + "axes[" + std::to_string(a) + "] ('" + ai.name + "') is a " + to_string(ai.kind) +
                      " axis; refine needs a database whose axes are all grid axes (kind \"grid\")");
    if (ai.size < 2) continue;
    const json& ja = raw["axes"][a];
    RefAxis g;
    g.axis = a;
    g.name = ai.name;
    g.param = ai.params[0];
    g.size = ai.size;
    g.values = ai.values;
    g.spaced = ja.contains("linspace") || ja.contains("logspace");
    g.log = ja.contains("logspace");
    if (g.spaced) {
      const json& sj = g.log ? ja["logspace"] : ja["linspace"];
      g.start = sj["start"].get<double>();
      g.stop = sj["stop"].get<double>();
    }
    ax.push_back(std::move(g));
  }
  if (ax.empty()) throw SpecError(head + "has no grid axis of two or more values to refine");
  if (s.n_rows != spec.sweep.size())
    throw SpecError(head + "has " + std::to_string(s.n_rows) + " rows but its spec " + std::to_string(spec.sweep.size()));
  const std::vector<int64_t> labels0 = read_int_column(o.db, o.label_column);

  const std::string work = o.out + ".refine";
  if (fs::exists(o.out, ec)) {
    if (!o.force) throw SpecError("-o " + o.out + ": exists; refusing to overwrite it (use --force to replace it)");
    try {
      if (inspect(o.out).state != "complete") throw DatabaseError("not a complete database");
    } catch (const DatabaseError& e) {
      throw SpecError("-o " + o.out + ": --force replaces only a neurosweep database, and this is not one (" + e.what() +
                      "); nothing was touched");
    }
  }
  if (fs::exists(work, ec)) {
    if (!o.resume && !o.force)
      throw SpecError("-o " + o.out + ": an unfinished refinement exists (" + work +
                      "); continue it with --resume or start over with --force");
    if (!o.resume) remove_work(work);
  }
  fs::create_directories(work, ec);
  if (ec) throw SpecError("-o " + o.out + ": cannot create " + work + ": " + ec.message());

  const size_t d = ax.size();
  const uint64_t S = uint64_t(1) << o.depth;
  std::map<Coord, int64_t> known;  // every point's label, grid and refined
  std::vector<Coord> cells;        // lower corners of the cells of the current level
  for (uint64_t i = 0; i < s.n_rows; ++i) {
    const auto digits = spec.sweep.decode(i);
    Coord c(d);
    bool lower = true;
    for (size_t r = 0; r < d; ++r) {
      c[r] = digits[ax[r].axis] * S;
      lower = lower && digits[ax[r].axis] + 1 < ax[r].size;
    }
    known[c] = labels0[i];
    if (lower) cells.push_back(c);
  }
  auto offset = [&](const Coord& c, uint64_t code, int base, uint64_t step) {
    Coord p = c;
    for (size_t r = 0; r < d; ++r, code /= base) p[r] += (code % base) * step;
    return p;
  };
  auto mixed = [&](const Coord& c, uint64_t h) {
    const int64_t l0 = known.at(c);
    for (uint64_t b = 1; b < (uint64_t(1) << d); ++b)
      if (known.at(offset(c, b, 2, h)) != l0) return true;
    return false;
  };
  uint64_t pow3 = 1;
  for (size_t r = 0; r < d; ++r) pow3 *= 3;

  std::vector<RefinedPart> parts;
  json levels = json::array();
  uint64_t used = 0, row = 0;
  bool exhausted = false;
  uint64_t h = S;
  for (int L = 1; L <= o.depth && !exhausted; ++L) {
    std::set<Coord> fresh;
    std::vector<Coord> split;
    uint64_t n_mixed = 0;
    for (const Coord& c : cells) {
      if (!mixed(c, h)) continue;
      ++n_mixed;
      if (exhausted) continue;
      std::vector<Coord> mine;
      for (uint64_t k = 0; k < pow3; ++k) {
        Coord p = offset(c, k, 3, h / 2);
        if (!known.count(p) && !fresh.count(p)) mine.push_back(std::move(p));
      }
      if (o.budget && used + fresh.size() + mine.size() > o.budget) {
        exhausted = true;  // cells in index order; a cell is split only when all its points fit
        continue;
      }
      fresh.insert(mine.begin(), mine.end());
      split.push_back(c);
    }
    if (fresh.empty()) break;
    const std::vector<Coord> pts(fresh.begin(), fresh.end());
    const size_t n = pts.size();
    // The level's build: the database's own spec, its axes replaced by one linked axis of the points.
    json lv = raw;
    lv["name"] = spec.name + "_refine" + std::to_string(L);
    if (lv.contains("output") && lv["output"].contains("traces")) lv["output"].erase("traces");
    json params = json::object();
    for (size_t a = 0; a < spec.sweep.axes().size(); ++a) {  // every grid parameter, refined or constant
      const AxisInfo& ai = spec.sweep.axes()[a];
      json vals = json::array();
      size_t r = 0;
      while (r < d && ax[r].axis != a) ++r;
      for (const Coord& p : pts) vals.push_back(r < d ? axis_value(ax[r], p[r], S) : ai.values[0]);
      params[ai.params[0]] = std::move(vals);
    }
    lv["axes"] = json::array({json{{"kind", "linked"}, {"name", "refine"}, {"params", std::move(params)}}});
    const std::string lspec = work + "/level-" + std::to_string(L) + ".json";
    const std::string ldb = work + "/level-" + std::to_string(L) + ".h5";
    std::ofstream(lspec) << lv.dump(1) << "\n";
    const RunSpec ls = parse_spec(lv, lspec);
    if (fs::exists(ldb, ec)) {
      if (inspect(ldb).spec_hash != hash_hex(ls.hash))
        throw SpecError(head + ldb + " holds level " + std::to_string(L) +
                        " of another refinement (other options or database); start over with --force");
    } else {
      RunOptions ro;
      ro.spec_path = lspec;
      ro.out = ldb;
      ro.backend = o.backend;
      ro.threads = o.threads;
      ro.chunk = o.chunk;
      ro.quiet = o.quiet;
      ro.resume = fs::exists(ldb + ".parts", ec);
      ro.stop_after_chunks = o.stop_after_chunks;
      if (!o.quiet) std::cerr << "neurosweep refine: level " << L << ": " << split.size() << " cells split, " << n << " new points\n";
      const int rc = run_build(ro, ls);
      if (rc != 0 || !fs::exists(ldb, ec)) {
        std::cerr << "neurosweep refine: level " << L << " is unfinished; continue the refinement with:\n  neurosweep refine "
                  << o.db << " -o " << o.out << " --resume\n";
        return rc;
      }
    }
    const auto lab = read_int_column(ldb, o.label_column);
    if (lab.size() != n) throw DatabaseError(ldb + ": has " + std::to_string(lab.size()) + " rows, expected " + std::to_string(n));
    RefinedPart part;
    part.path = ldb;
    std::vector<uint64_t> index(n);
    std::vector<uint8_t> level(n, static_cast<uint8_t>(L));
    for (size_t j = 0; j < n; ++j) {
      known[pts[j]] = lab[j];
      index[j] = row + j;
    }
    part.columns["index"] = bytes_of(index);
    part.columns["level"] = bytes_of(level);
    for (size_t r = 0; r < d; ++r) {
      std::vector<double> pos(n);
      for (size_t j = 0; j < n; ++j) pos[j] = static_cast<double>(pts[j][r]) / static_cast<double>(S);
      part.columns["pos_" + ax[r].name] = bytes_of(pos);
    }
    parts.push_back(std::move(part));
    row += n;
    used += n;
    levels.push_back({{"level", L}, {"cells_mixed", n_mixed}, {"cells_split", split.size()}, {"points", n}});
    std::vector<Coord> next;
    for (const Coord& c : split)
      for (uint64_t b = 0; b < (uint64_t(1) << d); ++b) next.push_back(offset(c, b, 2, h / 2));
    cells = std::move(next);
    h /= 2;
  }
  std::vector<ColumnSpec> extra = {{"level", "u1", "", "refinement level (k: spacing 2^-k of the grid's)", {}}};
  json axes = json::array();
  for (const auto& g : ax) {
    extra.push_back({"pos_" + g.name, "f8", "", "position along grid axis " + g.name + " in grid steps (fractional index)", {}});
    axes.push_back(g.name);
  }
  const json summary = {{"source", o.db},
                        {"source_spec_hash", s.spec_hash},
                        {"label_column", o.label_column},
                        {"depth", o.depth},
                        {"budget", o.budget},
                        {"budget_exhausted", exhausted},
                        {"axes", axes},
                        {"levels", levels},
                        {"n_points", used}};
  const std::string tmp = work + "/final.h5.tmp";
  write_refined(o.db, tmp, parts, extra, {{"refine", summary.dump()}});
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0)
    throw DatabaseError(o.out + ": cannot rename " + tmp + " into place: " + std::strerror(errno));
  remove_work(work);
  if (!o.quiet)
    std::cerr << "neurosweep refine: wrote " << o.out << ": " << s.n_rows << " grid points + " << used
              << " refined points in " << levels.size() << " level(s)" << (exhausted ? " (budget reached)" : "") << "\n";
  return 0;
}

}  // namespace ns
