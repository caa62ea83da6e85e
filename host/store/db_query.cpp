// Readers of the database: open a complete/shard file or an unfinished parts directory,
// `neurosweep info` (inspect + format_info) and `neurosweep query` (filter expression, CSV/JSON).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <queue>
#include <sstream>

#include "store/database.hpp"
#include "store/db_internal.hpp"
#include "neurosweep/hash.hpp"

namespace fs = std::filesystem;

namespace ns {
namespace db {

DbView open_view(const std::string& path_in) {
  quiet_hdf5();
  std::string p = path_in;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::error_code ec;
  DbView v;
  v.path = path_in;
  std::string parts;
  if (fs::is_directory(p, ec)) {
    parts = p;
  } else if (fs::exists(p, ec)) {
    RowFile rf = open_row_file(p, false);
    v.state = "complete";
    v.data_path = p;
    v.attrs = read_all_attrs(rf.file, p);
    v.schema = schema_from_json(json::parse(attr_string(rf.file, "schema", p), nullptr, false), p);
    v.spec_hash = attr_string(rf.file, "spec_hash", p);
    v.format_version = static_cast<int>(attr_int(rf.file, "format_version", p));
    v.n_instances = static_cast<uint64_t>(attr_int(rf.file, "n_instances", p));
    v.first_index = rf.first_index;
    v.n_rows = rf.n_rows;
    if (auto sn = read_attr(rf.file, "shard_n", p); sn && std::holds_alternative<int64_t>(*sn)) {
      v.shard_n = static_cast<int>(std::get<int64_t>(*sn));
      v.shard_k = static_cast<int>(attr_int(rf.file, "shard_k", p));
      v.state = "shard";
    }
    v.sources = {p};
    return v;
  } else if (fs::is_directory(p + ".parts", ec)) {
    parts = p + ".parts";
  } else {
    fail(p, "no such file (and no unfinished build " + p + ".parts)");
  }
  // unfinished build
  const std::string mp = parts + "/manifest.json";
  if (!fs::exists(mp, ec)) fail(parts, "directory without manifest.json: not a neurosweep build directory");
  json m;
  {
    std::ifstream in(mp);
    m = json::parse(in, nullptr, false);
  }
  if (m.is_discarded() || !m.is_object()) fail(mp, "corrupt manifest (not valid JSON)");
  if (m.value("format", "") != "neurosweep-parts") fail(mp, "not a neurosweep build manifest");
  v.format_version = m.value("format_version", 0);
  if (v.format_version > kFormatVersion)
    fail(mp, "format_version " + std::to_string(v.format_version) + " is newer than this program supports");
  try {
    v.state = "unfinished";
    v.data_path = parts;
    v.schema = schema_from_json(m.at("schema"), mp);
    v.attrs = attrs_from_json(m.at("attrs"), mp);
    v.spec_hash = m.at("spec_hash").get<std::string>();
    v.n_instances = m.at("n_instances").get<uint64_t>();
    const uint64_t cs = m.at("chunk_size").get<uint64_t>();
    const uint64_t b = m.at("chunk_begin").get<uint64_t>(), e = m.at("chunk_end").get<uint64_t>();
    v.shard_k = m.at("shard_k").get<int>();
    v.shard_n = m.at("shard_n").get<int>();
    v.attrs["spec"] = m.at("spec").get<std::string>();
    v.attrs["spec_hash"] = v.spec_hash;
    v.attrs["created"] = m.at("created").get<std::string>();
    v.attrs["software_version"] = m.at("software_version").get<std::string>();
    v.attrs["git_revision"] = m.at("git_revision").get<std::string>();
    v.attrs["chunk_size"] = static_cast<int64_t>(cs);
    v.chunks_total = e - b;
    v.first_index = b * cs;
    for (uint64_t c : list_chunk_files(parts, b, e)) {  // O(chunks done), not O(chunks)
      const std::string f = parts + "/" + chunk_file_name(c);
      v.sources.push_back(f);
      ++v.chunks_done;
      v.n_rows += std::min(v.n_instances, (c + 1) * cs) - c * cs;
    }
  } catch (const json::exception& e) {
    fail(mp, std::string("corrupt manifest: ") + e.what());
  }
  return v;
}

namespace {

// One block of one column, raw bytes, with typed access.
struct ColBlock {
  const ColumnSpec* spec = nullptr;
  size_t es = 0;
  std::vector<uint8_t> raw;

  double get(uint64_t r) const {
    const uint8_t* p = raw.data() + r * es;
    const std::string& d = spec->dtype;
    if (d == "f4") { float x; std::memcpy(&x, p, 4); return x; }
    if (d == "f8") { double x; std::memcpy(&x, p, 8); return x; }
    if (d == "i1") return static_cast<int8_t>(*p);
    if (d == "u1") return *p;
    if (d == "i4") { int32_t x; std::memcpy(&x, p, 4); return x; }
    if (d == "u4") { uint32_t x; std::memcpy(&x, p, 4); return x; }
    uint64_t x; std::memcpy(&x, p, 8); return static_cast<double>(x);
  }
  // Text of the value; *is_str: an enum name (quote it in JSON); *is_null: NaN/inf.
  std::string text(uint64_t r, bool* is_str, bool* is_null) const {
    *is_str = false;
    *is_null = false;
    const uint8_t* p = raw.data() + r * es;
    const std::string& d = spec->dtype;
    char b[64];
    if (d == "f4" || d == "f8") {
      const double x = get(r);
      if (!std::isfinite(x)) {
        *is_null = true;
        return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
      }
      std::to_chars_result res = d == "f4" ? std::to_chars(b, b + sizeof b, static_cast<float>(x))
                                           : std::to_chars(b, b + sizeof b, x);
      return std::string(b, res.ptr);
    }
    if (d == "u8") {
      uint64_t x;
      std::memcpy(&x, p, 8);
      return std::to_string(x);
    }
    const int64_t x = static_cast<int64_t>(get(r));
    if (!spec->enum_names.empty() && ((x >= 0 && x < static_cast<int64_t>(spec->enum_names.size())) ||
                                      (x == -1 && has_unclassified(*spec)))) {
      *is_str = true;
      return enum_text(*spec, x);
    }
    return std::to_string(x);
  }
};

// Reads blocks of selected columns from the sources of a view, in index order.
class BlockReader {
 public:
  BlockReader(const DbView& v, std::vector<int> cols) : v_(v), cols_(std::move(cols)) {}
  // Calls f(blocks, n) for each block; blocks[k] is column cols[k]. f returns false to stop.
  template <class F>
  void run(F f) {
    const bool chunk = v_.state == "unfinished";
    std::vector<ColBlock> blocks(cols_.size());
    for (size_t k = 0; k < cols_.size(); ++k) {
      blocks[k].spec = &v_.schema.columns[cols_[k]];
      blocks[k].es = dtype_size(blocks[k].spec->dtype);
    }
    for (const auto& src : v_.sources) {
      RowFile rf = open_row_file(src, chunk);
      Hid inst = open_group(rf.file, "instances", src);
      std::vector<Hid> ds;
      for (size_t k = 0; k < cols_.size(); ++k) {
        ds.push_back(open_dataset(inst, blocks[k].spec->name, src));
        check_column_type(ds.back(), *blocks[k].spec, src);
        if (dataset_length(ds.back(), src) != rf.n_rows) fail(src, "column '" + blocks[k].spec->name + "' has the wrong length (corrupt file)");
      }
      constexpr uint64_t B = 1u << 16;
      for (uint64_t a = 0; a < rf.n_rows; a += B) {
        const uint64_t m = std::min(B, rf.n_rows - a);
        for (size_t k = 0; k < cols_.size(); ++k) {
          blocks[k].raw.resize(m * blocks[k].es);
          read_rows(ds[k], a, m, blocks[k].raw.data(), src, "column '" + blocks[k].spec->name + "'");
        }
        if (!f(blocks, m)) return;
      }
    }
  }

 private:
  const DbView& v_;
  std::vector<int> cols_;
};

int find_column(const StoreSchema& s, const std::string& name) {
  for (size_t k = 0; k < s.columns.size(); ++k)
    if (s.columns[k].name == name) return static_cast<int>(k);
  return -1;
}

std::string column_list(const StoreSchema& s) {
  std::string o;
  for (const auto& c : s.columns) o += (o.empty() ? "" : ", ") + c.name;
  return o;
}

// ---- filter expressions -----------------------------------------------------------------------
// expr := or ; or := and ("or" and)* ; and := unary ("and" unary)* ;
// unary := "not" unary | "(" expr ")" | column op value ; op := < <= > >= == = !=
// value := number | name or quoted string (enum columns: a member name)
struct Node {
  enum Kind { Cmp, And, Or, Not } kind = Cmp;
  int col = -1, op = 0;  // op: 0 <, 1 <=, 2 >, 3 >=, 4 ==, 5 !=
  double value = 0;
  std::unique_ptr<Node> a, b;
};

class Parser {
 public:
  Parser(const std::string& text, const StoreSchema& s, const std::string& path) : t_(text), s_(s), path_(path) {
    lex();
  }
  std::unique_ptr<Node> parse() {
    auto n = parse_or();
    if (pos_ < tok_.size()) err("unexpected '" + tok_[pos_] + "'");
    return n;
  }

 private:
  [[noreturn]] void err(const std::string& what) const {
    throw DatabaseError(path_ + ": query expression \"" + t_ + "\": " + what);
  }
  void lex() {
    size_t i = 0;
    while (i < t_.size()) {
      const char c = t_[i];
      if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
      if (c == '(' || c == ')') { tok_.push_back(std::string(1, c)); ++i; continue; }
      if (c == '<' || c == '>' || c == '=' || c == '!') {
        std::string op(1, c);
        if (i + 1 < t_.size() && t_[i + 1] == '=') op += '=';
        if (op == "!") err("'!' must be '!=' (use 'not' for negation)");
        tok_.push_back(op);
        i += op.size();
        continue;
      }
      if (c == '&' || c == '|') {
        if (i + 1 < t_.size() && t_[i + 1] == c) { tok_.push_back(c == '&' ? "and" : "or"); i += 2; continue; }
        err(std::string("single '") + c + "'");
      }
      if (c == '"' || c == '\'') {
        const size_t e = t_.find(c, i + 1);
        if (e == std::string::npos) err("unterminated string");
        tok_.push_back("\"" + t_.substr(i + 1, e - i - 1));
        i = e + 1;
        continue;
      }
      size_t j = i;
      while (j < t_.size() && !std::isspace(static_cast<unsigned char>(t_[j])) && std::string("()<>=!&|\"'").find(t_[j]) == std::string::npos) ++j;
      tok_.push_back(t_.substr(i, j - i));
      i = j;
    }
  }
  bool accept(const std::string& w) {
    if (pos_ < tok_.size()) {
      std::string lw = tok_[pos_];
      std::transform(lw.begin(), lw.end(), lw.begin(), ::tolower);
      if (lw == w) { ++pos_; return true; }
    }
    return false;
  }
  std::unique_ptr<Node> bin(Node::Kind k, std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  std::unique_ptr<Node> parse_or() {
    auto n = parse_and();
    while (accept("or")) n = bin(Node::Or, std::move(n), parse_and());
    return n;
  }
  std::unique_ptr<Node> parse_and() {
    auto n = parse_unary();
    while (accept("and")) n = bin(Node::And, std::move(n), parse_unary());
    return n;
  }
  std::unique_ptr<Node> parse_unary() {
    if (pos_ >= tok_.size()) err("unexpected end");
    if (accept("not")) return bin(Node::Not, parse_unary(), nullptr);
    if (accept("(")) {
      auto n = parse_or();
      if (!accept(")")) err("missing ')'");
      return n;
    }
    const std::string name = tok_[pos_++];
    auto n = std::make_unique<Node>();
    n->col = find_column(s_, name);
    if (n->col < 0) err("unknown column '" + name + "' (columns: " + column_list(s_) + ")");
    static const char* ops[] = {"<", "<=", ">", ">=", "==", "!="};
    if (pos_ >= tok_.size()) err("expected a comparison after '" + name + "'");
    std::string op = tok_[pos_++];
    if (op == "=") op = "==";
    n->op = -1;
    for (int k = 0; k < 6; ++k)
      if (op == ops[k]) n->op = k;
    if (n->op < 0) err("expected one of < <= > >= == != after '" + name + "', got '" + op + "'");
    if (pos_ >= tok_.size()) err("expected a value after '" + name + " " + op + "'");
    std::string val = tok_[pos_++];
    const bool quoted = !val.empty() && val[0] == '"';
    if (quoted) val = val.substr(1);
    const ColumnSpec& c = s_.columns[n->col];
    if (!c.enum_names.empty()) {
      auto it = std::find(c.enum_names.begin(), c.enum_names.end(), val);
      if (it != c.enum_names.end()) {
        n->value = static_cast<double>(it - c.enum_names.begin());
        return n;
      }
    }
    char* end = nullptr;
    n->value = std::strtod(val.c_str(), &end);
    if (quoted || val.empty() || *end != '\0') {
      std::string names;
      for (const auto& e : c.enum_names) names += (names.empty() ? "" : ", ") + e;
      err("'" + val + "' is not a number" + (names.empty() ? "" : " nor a name of '" + c.name + "' (" + names + ")"));
    }
    return n;
  }

  std::string t_;
  const StoreSchema& s_;
  std::string path_;
  std::vector<std::string> tok_;
  size_t pos_ = 0;
};

void collect_cols(const Node* n, std::vector<int>& out) {
  if (!n) return;
  if (n->kind == Node::Cmp) out.push_back(n->col);
  collect_cols(n->a.get(), out);
  collect_cols(n->b.get(), out);
}

bool eval(const Node* n, const std::vector<ColBlock>& b, const std::vector<int>& slot, uint64_t r) {
  switch (n->kind) {
    case Node::And: return eval(n->a.get(), b, slot, r) && eval(n->b.get(), b, slot, r);
    case Node::Or: return eval(n->a.get(), b, slot, r) || eval(n->b.get(), b, slot, r);
    case Node::Not: return !eval(n->a.get(), b, slot, r);
    default: break;
  }
  const double x = b[slot[n->col]].get(r);  // NaN compares false except !=
  switch (n->op) {
    case 0: return x < n->value;
    case 1: return x <= n->value;
    case 2: return x > n->value;
    case 3: return x >= n->value;
    case 4: return x == n->value;
    default: return x != n->value;
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::vector<std::pair<std::string, uint64_t>> count_codes(const std::map<int64_t, uint64_t>& m, const ColumnSpec& c) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t k = 0; k < c.enum_names.size(); ++k) {
    auto it = m.find(static_cast<int64_t>(k));
    out.emplace_back(c.enum_names[k], it == m.end() ? 0 : it->second);
  }
  for (const auto& [code, n] : m)
    if (code < 0 || code >= static_cast<int64_t>(c.enum_names.size())) out.emplace_back(enum_text(c, code), n);
  return out;
}

}  // namespace
}  // namespace db

using namespace db;

DbSummary inspect(const std::string& path) {
  DbView v = open_view(path);
  DbSummary s;
  s.path = path;
  s.state = v.state;
  s.format_version = v.format_version;
  s.spec_hash = v.spec_hash;
  s.n_instances = v.n_instances;
  s.n_rows = v.n_rows;
  s.first_index = v.first_index;
  s.chunks_done = v.chunks_done;
  s.chunks_total = v.chunks_total;
  s.shard_k = v.shard_k;
  s.shard_n = v.shard_n;
  s.attrs = v.attrs;
  s.columns = v.schema.columns;
  if (v.schema.max_spikes_stored > 0) s.groups.push_back("spikes");
  if (v.schema.final_state) s.groups.push_back("final_state");
  if (v.schema.has_rates()) s.groups.push_back("rates");
  if (!v.schema.axes.empty()) s.groups.push_back("axes");
  if (v.state != "unfinished") {
    Hid f = open_ro(v.data_path);
    if (link_exists(f, "traces")) s.groups.push_back("traces");
    if (link_exists(f, "refined")) s.groups.push_back("refined");
  }
  // Every dataset the schema promises is there with its type (the first file of an unfinished
  // build stands for the others): a deleted /spikes/times is reported here, not by a later read.
  if (!v.sources.empty()) {
    const std::string& src = v.sources.front();
    Hid f = open_ro(src);
    Hid inst = open_group(f, "instances", src);
    for (const auto& c : v.schema.columns) check_column_type(open_dataset(inst, c.name, src), c, src);
    if (v.schema.max_spikes_stored > 0) {
      open_dataset(f, "spikes/offsets", src);
      open_dataset(f, "spikes/times", src);
    }
    if (v.schema.final_state)
      for (const auto& n : v.schema.state_names) open_dataset(f, "final_state/" + n, src);
  }
  // label and status counts from the data (exact, whatever the caller's attributes say)
  std::vector<int> cols;
  const int lc = find_column(v.schema, "label"), sc = find_column(v.schema, "status");
  if (lc >= 0 && !v.schema.columns[lc].enum_names.empty()) cols.push_back(lc);
  if (sc >= 0 && !v.schema.columns[sc].enum_names.empty()) cols.push_back(sc);
  if (!cols.empty()) {
    std::vector<std::map<int64_t, uint64_t>> counts(cols.size());
    BlockReader(v, cols).run([&](const std::vector<ColBlock>& b, uint64_t m) {
      for (size_t k = 0; k < b.size(); ++k)
        for (uint64_t r = 0; r < m; ++r) ++counts[k][static_cast<int64_t>(b[k].get(r))];
      return true;
    });
    for (size_t k = 0; k < cols.size(); ++k) {
      auto c = count_codes(counts[k], v.schema.columns[cols[k]]);
      (cols[k] == lc ? s.label_counts : s.status_counts) = c;
    }
  }
  return s;
}

std::string format_info(const DbSummary& s) {
  std::ostringstream o;
  auto str = [&](const std::string& k) -> std::string {
    auto it = s.attrs.find(k);
    if (it == s.attrs.end()) return "";
    if (auto p = std::get_if<std::string>(&it->second)) return *p;
    if (auto p = std::get_if<int64_t>(&it->second)) return std::to_string(*p);
    std::ostringstream t;
    t << std::get<double>(it->second);
    return t.str();
  };
  o << s.path << ": neurosweep database (format " << s.format_version << "), ";
  if (s.state == "unfinished") {
    o << "unfinished: " << s.chunks_done << " of " << s.chunks_total << " chunks done";
    if (s.shard_n > 1) o << " (shard " << s.shard_k << "/" << s.shard_n << ")";
    o << "\n";
  } else if (s.state == "shard") {
    o << "shard " << s.shard_k << "/" << s.shard_n << " (instances [" << s.first_index << ", "
      << s.first_index + s.n_rows << "))\n";
  } else {
    o << "complete\n";
  }
  o << "  instances:  " << s.n_instances;
  if (s.n_rows != s.n_instances) o << " (" << s.n_rows << " rows readable)";
  o << "\n  spec hash:  " << s.spec_hash << "\n";
  const char* keys[] = {"model", "seed", "backend", "device", "precision", "gating", "dt_ms",
                        "transient_ms", "analysis_ms", "initial", "starts", "created", "finalized",
                        "software_version", "git_revision", "chunk_size", "timings", "extended_from", "refine"};
  for (const char* k : keys) {
    const std::string v = str(k);
    if (!v.empty()) o << "  " << k << ": " << v << "\n";
  }
  o << "  columns (" << s.columns.size() << "):";
  for (const auto& c : s.columns) {
    o << " " << c.name;
    if (!c.units.empty()) o << " [" << c.units << "]";
    o << ",";
  }
  o.seekp(-1, std::ios_base::cur);
  o << "\n";
  if (!s.groups.empty()) {
    o << "  groups:";
    for (const auto& g : s.groups) o << " /" << g;
    o << "\n";
  }
  auto counts = [&](const char* what, const std::vector<std::pair<std::string, uint64_t>>& c) {
    if (c.empty()) return;
    o << "  " << what << ":\n";
    for (const auto& [name, n] : c) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.2f%%", s.n_rows ? 100.0 * double(n) / double(s.n_rows) : 0.0);
      o << "    " << name << ": " << n << " (" << pct << ")\n";
    }
  };
  counts("labels", s.label_counts);
  counts("status", s.status_counts);
  return o.str();
}

uint64_t query(const std::string& path, const QueryOptions& opt, std::ostream& out) {
  DbView v = open_view(path);
  const StoreSchema& s = v.schema;
  if (opt.format != "csv" && opt.format != "json")
    throw DatabaseError("query: unknown output format '" + opt.format + "' (csv or json)");
  std::vector<int> outc;
  if (opt.columns.empty()) {
    for (size_t k = 0; k < s.columns.size(); ++k) outc.push_back(static_cast<int>(k));
  } else {
    for (const auto& c : opt.columns) {
      const int k = find_column(s, c);
      if (k < 0) fail(path, "query: unknown column '" + c + "' (columns: " + column_list(s) + ")");
      outc.push_back(k);
    }
  }
  std::unique_ptr<Node> expr;
  std::vector<int> need = outc;
  if (!opt.where.empty()) {
    expr = Parser(opt.where, s, path).parse();
    collect_cols(expr.get(), need);
  }
  int label_col = -1;
  std::vector<bool> want_label;
  bool want_unclassified = false;
  if (!opt.labels.empty()) {
    label_col = find_column(s, "label");
    if (label_col < 0 || s.columns[label_col].enum_names.empty()) fail(path, "query: the database has no label column");
    const auto& names = s.columns[label_col].enum_names;
    want_label.assign(names.size(), false);
    for (const auto& l : opt.labels) {
      if (l == kUnclassified && has_unclassified(s.columns[label_col])) {
        want_unclassified = true;
        continue;
      }
      auto it = std::find(names.begin(), names.end(), l);
      if (it == names.end()) {
        std::string all;
        for (const auto& e : names) all += (all.empty() ? "" : ", ") + e;
        if (has_unclassified(s.columns[label_col])) all += std::string(", ") + kUnclassified;
        fail(path, "query: unknown label '" + l + "' (labels: " + all + ")");
      }
      want_label[it - names.begin()] = true;
    }
    need.push_back(label_col);
  }
  std::sort(need.begin(), need.end());
  need.erase(std::unique(need.begin(), need.end()), need.end());
  std::vector<int> slot(s.columns.size(), -1);
  for (size_t k = 0; k < need.size(); ++k) slot[need[k]] = static_cast<int>(k);

  const bool json_out = opt.format == "json";
  if (json_out) {
    out << "[";
  } else {
    for (size_t k = 0; k < outc.size(); ++k) out << (k ? "," : "") << csv_field(s.columns[outc[k]].name);
    out << "\n";
  }
  uint64_t written = 0;
  std::string line;
  BlockReader(v, need).run([&](const std::vector<ColBlock>& b, uint64_t m) {
    for (uint64_t r = 0; r < m; ++r) {
      if (label_col >= 0) {
        const double code = b[slot[label_col]].get(r);
        const bool keep = code == -1 ? want_unclassified
                                     : code >= 0 && code < want_label.size() && want_label[static_cast<size_t>(code)];
        if (!keep) continue;
      }
      if (expr && !eval(expr.get(), b, slot, r)) continue;
      line.clear();
      for (size_t k = 0; k < outc.size(); ++k) {
        bool is_str, is_null;
        const std::string t = b[slot[outc[k]]].text(r, &is_str, &is_null);
        if (json_out) {
          line += (k ? ", " : "{") + json(s.columns[outc[k]].name).dump() + ": ";
          line += is_null ? std::string("null") : (is_str ? json(t).dump() : t);
        } else {
          line += (k ? "," : "") + csv_field(t);
        }
      }
      if (json_out) out << (written ? ",\n" : "\n") << line << "}";
      else out << line << "\n";
      ++written;
      if (opt.limit && written >= opt.limit) return false;
    }
    return true;
  });
  if (json_out) out << (written ? "\n]\n" : "]\n");
  if (!out) throw DatabaseError("query: cannot write the output (disk full or closed pipe?)");
  return written;
}

uint64_t trace_key(uint64_t seed, uint64_t index) { return mix64(mix64(seed) ^ index); }

std::string trace_choice_json(const TraceChoice& c) {
  return json{{"per_label", c.per_label}, {"max", c.max}, {"seed", c.seed}}.dump();
}

void check_trace_choice(const StoreSchema& s, const TraceChoice& c, const std::string& context) {
  if (!c.where.empty()) Parser(c.where, s, context).parse();
  if (c.per_label > 0) {
    const int lc = find_column(s, "label");
    if (lc < 0 || s.columns[lc].enum_names.empty())
      throw DatabaseError(context + ": per_label needs a label column, and this model's classifier writes none (columns: " +
                          column_list(s) + ")");
  }
}

std::vector<uint64_t> choose_traces(const std::string& path, const TraceChoice& c) {
  DbView v = open_view(path);
  const StoreSchema& s = v.schema;
  check_trace_choice(s, c, path);
  std::unique_ptr<Node> expr;
  std::vector<int> need;
  const int ic = find_column(s, "index");
  if (ic < 0 || s.columns[ic].dtype != "u8") fail(path, "no u8 index column (corrupt file)");
  need.push_back(ic);
  const int lc = c.per_label > 0 ? find_column(s, "label") : -1;
  if (lc >= 0) need.push_back(lc);
  if (!c.where.empty()) {
    expr = Parser(c.where, s, path).parse();
    collect_cols(expr.get(), need);
  }
  std::sort(need.begin(), need.end());
  need.erase(std::unique(need.begin(), need.end()), need.end());
  std::vector<int> slot(s.columns.size(), -1);
  for (size_t k = 0; k < need.size(); ++k) slot[need[k]] = static_cast<int>(k);
  const uint64_t cap = c.per_label > 0 ? c.per_label : c.max;
  using Item = std::pair<uint64_t, uint64_t>;  // (key, index): a max-heap keeps the cap smallest
  std::map<int64_t, std::priority_queue<Item>> best;  // per label code (one group without per_label)
  BlockReader(v, need).run([&](const std::vector<ColBlock>& b, uint64_t m) {
    for (uint64_t r = 0; r < m; ++r) {
      if (expr && !eval(expr.get(), b, slot, r)) continue;
      uint64_t idx;
      std::memcpy(&idx, b[slot[ic]].raw.data() + r * 8, 8);
      if (std::binary_search(c.exclude.begin(), c.exclude.end(), idx)) continue;
      const int64_t group = lc >= 0 ? static_cast<int64_t>(b[slot[lc]].get(r)) : 0;
      auto& h = best[group];
      const Item it{trace_key(c.seed, idx), idx};
      if (h.size() < cap) {
        h.push(it);
      } else if (it < h.top()) {
        h.pop();
        h.push(it);
      }
    }
    return true;
  });
  std::vector<uint64_t> out;
  for (auto& [g, h] : best)
    for (; !h.empty(); h.pop()) out.push_back(h.top().second);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ns
