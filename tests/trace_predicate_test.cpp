// output.traces chosen by predicate (per_label, where + max): the documented selection rule
// (store/database.hpp, choose_traces) recomputed here from the database's own rows, the traces
// equal to explicitly requested ones bit for bit, independence of threads, chunks and shards
// (merge keeps the sweep's choice), resume, and clear errors (unknown columns and labels, bad
// counts) that leave no output behind.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_fixture.hpp"
#include "test_util.hpp"
#include "neurosweep/hash.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {


// 35 STG neurons over gCaS x gKd: every one of the five labels occurs (7 silent, 3 tonic,
// 17 bursting, 5 irregular bursting, 3 irregular).
std::string grid_spec(const std::string& traces) {
  std::string spec = nstest::kGridSpec;  // test_util.hpp, with the output replaced by the traces
  const std::string out = R"("output": {"final_state": true, "spikes": 20})";
  spec.replace(spec.find(out), out.size(), R"("output": {"traces": )" + traces + "}");
  return spec;
}

// Names of /traces/* (instance indices), ascending.
std::vector<uint64_t> traced(const fs::path& db) {
  std::vector<uint64_t> out;
  hid_t f = H5Fopen(db.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << db;
  if (f < 0) return out;
  if (H5Lexists(f, "traces", H5P_DEFAULT) > 0) {
    hid_t g = H5Gopen2(f, "traces", H5P_DEFAULT);
    auto cb = [](hid_t, const char* nm, const H5L_info_t*, void* d) -> herr_t {
      static_cast<std::vector<uint64_t>*>(d)->push_back(std::stoull(nm));
      return 0;
    };
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &out);
    H5Gclose(g);
  }
  H5Fclose(f);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<double> read_trace(const fs::path& db, uint64_t i, const std::string& var) {
  std::vector<double> v;
  hid_t f = H5Fopen(db.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const std::string p = "traces/" + std::to_string(i) + "/" + var;
  hid_t d = H5Dopen2(f, p.c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0) << db << ": " << p;
  if (d >= 0) {
    hid_t s = H5Dget_space(d);
    v.resize(static_cast<size_t>(H5Sget_simple_extent_npoints(s)));
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return v;
}

class TracePredicateTest : public nstest::CliTest {
 protected:
  TracePredicateTest() : CliTest("ns_tp_") {}
  fs::path build(const std::string& name, const std::string& traces, const std::string& flags = "--threads 1") {
    const auto spec = write(name + ".json", grid_spec(traces));
    const fs::path db = dir / (name + ".h5");
    const auto r = cli("run " + spec.string() + " -o " + db.string() + " -q " + flags);
    EXPECT_EQ(r.code, 0) << r.err;
    return db;
  }
  // (index, label) of the rows matching `where` (all rows when empty), via `neurosweep query`.
  std::vector<std::pair<uint64_t, std::string>> rows(const fs::path& db, const std::string& where = "") {
    const auto r = cli("query " + db.string() + " --format json --columns index,label" +
                       (where.empty() ? "" : " --where \"" + where + "\""));
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::pair<uint64_t, std::string>> out;
    for (const auto& o : json::parse(r.out)) out.emplace_back(o["index"].get<uint64_t>(), o["label"].get<std::string>());
    return out;
  }
};

// The rule of docs/SWEEP_SPEC.md, written out again: key mix64(mix64(seed) ^ index), the
// `cap` smallest keys per group.
std::set<uint64_t> smallest_keys(const std::vector<std::pair<uint64_t, std::string>>& rows, uint64_t seed,
                                 size_t cap, bool per_label, const std::set<uint64_t>& exclude = {}) {
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> groups;
  for (const auto& [i, l] : rows)
    if (!exclude.count(i)) groups[per_label ? l : ""].push_back({ns::mix64(ns::mix64(seed) ^ i), i});
  std::set<uint64_t> out;
  for (auto& [l, v] : groups) {
    std::sort(v.begin(), v.end());
    for (size_t k = 0; k < std::min(cap, v.size()); ++k) out.insert(v[k].second);
  }
  return out;
}

}  // namespace

TEST_F(TracePredicateTest, PerLabelTakesTheDocumentedSampleOfEveryLabel) {
  const auto db = build("pl", R"({"instances": [3], "per_label": 2, "every": "1 ms"})");
  const auto all = rows(db);
  ASSERT_EQ(all.size(), 35u);
  std::map<std::string, int> count;
  for (const auto& r : all) ++count[r.second];
  ASSERT_EQ(count.size(), 5u) << "the grid should show all five labels";
  const auto got = traced(db);
  std::set<uint64_t> want = smallest_keys(all, 7, 2, true, {3});
  want.insert(3);  // the explicit one, besides the sample
  EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()), want);
  // two of each label (every label has at least 2 rows here), plus instance 3
  std::map<std::string, int> per;
  for (uint64_t i : got)
    if (i != 3) ++per[all[i].second];
  for (const auto& [l, n] : count) EXPECT_EQ(per[l], 2) << l;
  // sampled every 1 ms over the 4 s analysis window, both ends included: t = 0, 1, ..., 4000 ms
  const auto t = read_trace(db, got.back(), "t");
  ASSERT_EQ(t.size(), 4001u);
  EXPECT_DOUBLE_EQ(t.back(), 4000.0);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 1.0);
}

TEST_F(TracePredicateTest, WhereWithCapTracesOnlyMatchingRows) {
  const std::string where = "gKd >= 75 and label != 'silent'";
  const auto db = build("w", R"({"where": "gKd >= 75 and label != 'silent'", "max": 4, "every": "5 ms"})");
  const auto match = rows(db, where);
  ASSERT_GT(match.size(), 4u);
  const auto got = traced(db);
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()), smallest_keys(match, 7, 4, false));
  // fewer matches than the cap: all of them
  const auto db2 = build("w2", R"({"where": "label == bursting and gCaS < 3", "max": 100})");
  const auto m2 = rows(db2, "label == bursting and gCaS < 3");
  std::vector<uint64_t> want;
  for (const auto& r : m2) want.push_back(r.first);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(traced(db2), want);
  // per_label within a where: at most 1 per label among gKd > 100
  const auto db3 = build("w3", R"({"where": "gKd > 100", "per_label": 1})");
  const auto m3 = rows(db3, "gKd > 100");
  const auto s3 = smallest_keys(m3, 7, 1, true);
  EXPECT_EQ(traced(db3), std::vector<uint64_t>(s3.begin(), s3.end()));
}

TEST_F(TracePredicateTest, ChosenTracesEqualExplicitOnesAndDoNotDependOnThreadsOrChunks) {
  const auto a = build("a", R"({"per_label": 1, "every": "0.5 ms"})", "--threads 1 --chunk 4");
  const auto b = build("b", R"({"per_label": 1, "every": "0.5 ms"})", "--threads 2 --chunk 7");
  const auto ta = traced(a);
  ASSERT_EQ(ta.size(), 5u);
  EXPECT_EQ(ta, traced(b));
  std::string list;
  for (uint64_t i : ta) list += (list.empty() ? "" : ",") + std::to_string(i);
  const auto e = build("e", R"({"instances": [)" + list + R"(], "every": "0.5 ms"})", "--threads 1 --chunk 64");
  ASSERT_EQ(traced(e), ta);
  for (uint64_t i : ta)
    for (const char* v : {"t", "V", "Ca"}) {
      const auto x = read_trace(a, i, v);
      ASSERT_EQ(x.size(), 8001u) << v;
      EXPECT_EQ(x, read_trace(b, i, v)) << "instance " << i << " " << v;
      EXPECT_EQ(x, read_trace(e, i, v)) << "instance " << i << " " << v;
    }
  // the rows themselves are the same database
  EXPECT_EQ(cli("query " + a.string()).out, cli("query " + e.string()).out);
}

TEST_F(TracePredicateTest, ResumedBuildTakesTheSameTraces) {
  const auto ref = build("ref", R"({"per_label": 2})", "--chunk 5");
  const auto spec = write("res.json", grid_spec(R"({"per_label": 2})"));
  const fs::path db = dir / "res.h5";
  auto r = cli("run " + spec.string() + " -o " + db.string() + " -q --chunk 5 --stop-after-chunks 3");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(fs::exists(db));
  ASSERT_FALSE(fs::exists(db.string() + ".parts/traces.h5"));
  r = cli("run " + spec.string() + " -o " + db.string() + " -q --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto got = traced(db);
  EXPECT_EQ(got, traced(ref));
  EXPECT_EQ(got.size(), 10u);
  for (uint64_t i : got) EXPECT_EQ(read_trace(db, i, "V"), read_trace(ref, i, "V")) << i;
  EXPECT_FALSE(fs::exists(db.string() + ".parts"));
}

TEST_F(TracePredicateTest, BadPredicatesGetClearErrorsAndNoOutput) {
  struct Case {
    std::string traces, want1, want2;
  };
  const std::vector<Case> cases = {
      {R"({"where": "gFoo > 3"})", "output.traces.where", "unknown column 'gFoo'"},
      {R"({"where": "label == 'burstin'"})", "output.traces.where", "'burstin' is not a number nor a name of 'label'"},
      {R"({"where": "gKd >"})", "output.traces.where", "expected a value after 'gKd >'"},
      {R"({"where": "   "})", "output.traces.where", "a non-empty query expression"},
      {R"({"per_label": 0})", "output.traces.per_label", "an integer in [1, 100000]"},
      {R"({"per_label": "all"})", "output.traces.per_label", "an integer, not a string"},
      {R"({"max": 3})", "output.traces", "give \"instances\""},
      {R"({"per_label": 2, "max": 3})", "output.traces.max", "caps the instances chosen by \"where\" alone"},
      {R"({"where": "gKd > 3", "max": -1})", "output.traces.max", "non-negative"},
      {R"({"wher": "gKd > 3"})", "output.traces.wher", "did you mean"},
  };
  for (const auto& c : cases) {
    const auto spec = write("bad.json", grid_spec(c.traces));
    const fs::path db = dir / "bad.h5";
    const auto r = cli("run " + spec.string() + " -o " + db.string() + " -q");
    EXPECT_NE(r.code, 0) << c.traces;
    EXPECT_NE(r.err.find(c.want1), std::string::npos) << c.traces << ": " << r.err;
    EXPECT_NE(r.err.find(c.want2), std::string::npos) << c.traces << ": " << r.err;
    EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(db)) << c.traces;
    EXPECT_FALSE(fs::exists(db.string() + ".parts")) << c.traces;
  }
}

// Shards trace their own candidates (the cap smallest keys of each label among their rows, a
// superset of the sweep's choice); merge keeps the sweep's choice: the merged database has the
// traces of the unsharded build, bit for bit.
TEST_F(TracePredicateTest, ShardedBuildsMergeToTheSameChoice) {
  for (const std::string traces : {R"({"instances": [4], "per_label": 2})", R"({"where": "gKd > 50", "max": 3})"}) {
    const auto one = build("one", traces, "--threads 1 --force");
    const auto spec = write("sh.json", grid_spec(traces));
    std::string shards;
    size_t candidates = 0;
    for (int k = 0; k < 3; ++k) {
      const auto r = cli("run " + spec.string() + " -o " + (dir / "sh.h5").string() + " -q --force --chunk 4 --shard " +
                         std::to_string(k) + "/3");
      ASSERT_EQ(r.code, 0) << r.err;
      const fs::path p = dir / ("sh.shard-" + std::to_string(k) + "-of-3.h5");
      candidates += traced(p).size();
      shards += " " + p.string();
    }
    const auto r = cli("merge" + shards + " -o " + (dir / "merged.h5").string() + " --force");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto want = traced(one), got = traced(dir / "merged.h5");
    EXPECT_GT(candidates, want.size()) << traces << ": the shards should hold more candidates than the choice";
    EXPECT_EQ(got, want) << traces;
    for (uint64_t i : want) EXPECT_EQ(read_trace(dir / "merged.h5", i, "V"), read_trace(one, i, "V")) << i;
    EXPECT_EQ(cli("query " + one.string()).out, cli("query " + (dir / "merged.h5").string()).out);
  }
}
