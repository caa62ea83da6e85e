// End-to-end tests of `neurosweep run/info/query/merge` through the real command line: file
// content, determinism across threads, chunk sizes and shards, resume after SIGKILL, and clear
// errors for malformed or hostile input with no output left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.hpp"
#include "cli_fixture.hpp"

namespace fs = std::filesystem;

namespace {

using Result = nstest::CliResult;
using nstest::slurp;

// Starts `neurosweep run SPEC -o DB -q --chunk 3 --threads 1 [--force]` in a child process (its
// stderr into err_file when given), waits until DB.parts holds at least n_chunks chunk files (at
// most 20 s), sends it `sig` and returns its wait status.
int run_and_signal(const fs::path& spec, const fs::path& db, int n_chunks, int sig, bool force,
                   const std::string& err_file = "") {
  const std::string parts = db.string() + ".parts";
  const pid_t pid = fork();
  if (pid == 0) {
    if (!err_file.empty()) dup2(::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    execl(NS_CLI_PATH, NS_CLI_PATH, "run", spec.c_str(), "-o", db.c_str(), "-q", "--chunk", "3", "--threads", "1",
          force ? "--force" : (char*)nullptr, (char*)nullptr);
    _exit(127);
  }
  for (int t = 0; t < 4000; ++t) {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(parts, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      n += it->path().filename().string().rfind("chunk-", 0) == 0;
    if (n >= n_chunks) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, sig);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

class RunTest : public nstest::CliTest {
 protected:
  RunTest() : CliTest("ns_run_") {}
  std::string csv(const fs::path& db) {
    const auto r = cli("query " + db.string() + " --format csv");
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
};

// A small 2-D grid with the classifier's slowest period lowered so a 4 s window suffices.
const char* kGrid = nstest::kGridSpec;
}  // namespace

TEST_F(RunTest, GridDatabaseHasDecodableAxesAndAttributes) {
  const auto spec = write("grid.json", kGrid);
  const auto db = dir / "grid.h5";
  auto r = cli("run " + spec.string() + " -o " + db.string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(db));
  EXPECT_FALSE(fs::exists(db.string() + ".parts"));
  // grid decode round trip: index = i_gCaS * 7 + i_gKd (first axis slowest)
  r = cli("query " + db.string() + " --columns index,gCaS,gKd --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,gCaS,gKd");
  const double kd[7] = {25, 50, 75, 100, 125, 150, 175};
  int rows = 0;
  while (std::getline(in, line)) {
    unsigned idx;
    double cas, kdv;
    ASSERT_EQ(std::sscanf(line.c_str(), "%u,%lf,%lf", &idx, &cas, &kdv), 3) << line;
    EXPECT_DOUBLE_EQ(cas, 2.5 * (idx / 7));
    EXPECT_DOUBLE_EQ(kdv, kd[idx % 7]);
    ++rows;
  }
  EXPECT_EQ(rows, 35);
  r = cli("info " + db.string());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"complete", "instances:  35", "model: stg", "seed: 7", "dt_ms: 0.05", "bursting", "/axes",
                        "/final_state", "/spikes", "gCaS [mS/cm^2]"})
    EXPECT_NE(r.out.find(s), std::string::npos) << "info lacks '" << s << "':\n" << r.out;
}

TEST_F(RunTest, KnownP04NeuronsGetTheirLabels) {
  const auto spec = write("p04.json", R"({
    "model": "stg", "dt": "0.05 ms", "transient": "10 s", "analysis": "10 s", "seed": 1,
    "axes": [{"kind": "categorical", "presets": ["ABPD1", "ABPD3", "LP1", "PY1", "PY2", "PY3"]}]
  })");
  const auto db = dir / "p04.h5";
  auto r = cli("run " + spec.string() + " -o " + db.string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  r = cli("query " + db.string() + " --columns index,label,burst_period_ms --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  const char* expect[6] = {"bursting", "bursting", "tonic", "tonic", "silent", "silent"};
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_NE(line.find(std::string(",") + expect[i] + ","), std::string::npos) << i << ": " << line;
  }
}

TEST_F(RunTest, SameDatabaseWhateverThreadsChunksOrShards) {
  const auto spec = write("grid.json", kGrid);
  ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "a.h5").string() + " --threads 1 --chunk 64 -q").code, 0);
  ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "b.h5").string() + " --threads 2 --chunk 7 -q").code, 0);
  for (int k = 0; k < 3; ++k)
    ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "c.h5").string() + " --chunk 5 -q --shard " +
                  std::to_string(k) + "/3").code, 0);
  auto r = cli("merge " + (dir / "c.shard-2-of-3.h5").string() + " " + (dir / "c.shard-0-of-3.h5").string() + " " +
               (dir / "c.shard-1-of-3.h5").string() + " -o " + (dir / "c.h5").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto a = csv(dir / "a.h5");
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a, csv(dir / "b.h5"));
  EXPECT_EQ(a, csv(dir / "c.h5"));
}

TEST_F(RunTest, ResumeAfterSigkillEqualsUninterruptedBuild) {
  const auto spec = write("grid.json", kGrid);
  const auto ref = dir / "ref.h5", db = dir / "killed.h5";
  ASSERT_EQ(cli("run " + spec.string() + " -o " + ref.string() + " -q --chunk 3").code, 0);
  const std::string parts = db.string() + ".parts";
  bool killed_mid = false;
  for (int attempt = 0; attempt < 3 && !killed_mid; ++attempt) {
    fs::remove_all(parts);
    // Some but not all chunk files exist: SIGKILL.
    const int st = run_and_signal(spec, db, 3, SIGKILL, true);
    killed_mid = WIFSIGNALED(st) && !fs::exists(db) && fs::exists(parts);
  }
  ASSERT_TRUE(killed_mid) << "could not kill the build mid-run";
  auto info = cli("info " + db.string());
  EXPECT_NE(info.out.find("unfinished"), std::string::npos) << info.out << info.err;
  // A plain run refuses to overwrite the unfinished build.
  auto r = cli("run " + spec.string() + " -o " + db.string() + " -q");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = cli("run " + spec.string() + " -o " + db.string() + " -q --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(csv(ref), csv(db));
}

// Malformed and hostile input: a clear message naming the problem, a non-zero exit, and no file
// that could be mistaken for a database.
// `simulate` prints spike times unrounded: NEST's stamps, not their float. BMTK's GLIF file as it
// is (4 receptor ports in tau_syn, a V_m entry, booleans) through --params, driven as NEST's
// step_current_generator [20, 450) ms with delay 0.1 ms (step_start = t0 + h): NEST 3.10's spikes
// (tests/data/nest_reference.json, case "bmtk 318808427 glif step 200": 8 spikes, the first at
// step 407) to the last bit, in double and in float.
TEST_F(RunTest, SimulatePrintsNestStampsUnrounded) {
  const std::string file = std::string(NS_SOURCE_DIR) + "/tests/data/bmtk/318808427_glif_lif_asc_psc.json";
  std::ifstream rf(std::string(NS_SOURCE_DIR) + "/tests/data/nest_reference.json");
  const auto ref = nlohmann::json::parse(rf);
  std::vector<long> want;
  for (const auto& c : ref["cases"])
    if (c["name"] == "bmtk 318808427 glif step 200") want = c["spikes"].get<std::vector<long>>();
  ASSERT_EQ(want.size(), 8u);
  for (const char* prec : {"double", "float"}) {
    const auto r = cli("simulate --model glif_psc --params " + file +
                       " -p step_amplitude=200 -p step_start=20.1 -p step_stop=450.1 --dt 0.1"
                       " --duration 500 --precision " + prec + " --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const auto times = j["spike_times"].get<std::vector<double>>();
    ASSERT_EQ(times.size(), want.size()) << prec;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_EQ(times[i], double(want[i]) / 10.0) << prec << " spike " << i;  // e.g. 40.7 exactly
  }
  // the I_e = 1000 pA spike of NEST's test_iaf_psc_alpha.py: 4.8 ms, printed as 4.8
  const auto r = cli("simulate --model iaf_psc_alpha -p I_e=1000 --duration 6 --dt 0.1 --precision double --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["spike_times"].get<std::vector<double>>(), std::vector<double>{4.8});
}

// Start states are parameters: BMTK's GLIF file as the spec's parameter_file (its V_m entry and
// 4 receptor ports accepted), V_m as a grid axis. From the file's V_m the first spike is NEST's
// (step 407 = 40.7 ms, tests/data/nest_reference.json "bmtk 318808427 glif step 200"); from
// V_m = -60 mV it comes earlier; the V_m column holds the axis values.
TEST_F(RunTest, StartStateIsAParameterAndAnAxis) {
  const std::string file = std::string(NS_SOURCE_DIR) + "/tests/data/bmtk/318808427_glif_lif_asc_psc.json";
  const auto spec = write("glif.json", R"({"name": "bmtk_glif", "model": "glif_psc", "dt": "0.1 ms",
    "transient": "0 ms", "analysis": "3 s", "seed": 1, "parameter_file": ")" + file + R"(",
    "fixed": {"step_amplitude": 200, "step_start": 20.1, "step_stop": 1e9},
    "axes": [{"kind": "grid", "param": "V_m", "values": [-76.1691640218099, -60]}],
    "classifier": {"slowest_period_ms": 250}, "output": {"spikes": 64}})");
  const auto db = dir / "glif.h5";
  const auto r = cli("run " + spec.string() + " -o " + db.string() + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto q = cli("query " + db.string() + " --columns V_m,latency_ms --format json");
  ASSERT_EQ(q.code, 0) << q.err;
  const auto rows = nlohmann::json::parse(q.out);
  ASSERT_EQ(rows.size(), 2u) << q.out;
  EXPECT_EQ(rows[0]["V_m"].get<double>(), -76.1691640218099);
  EXPECT_NEAR(rows[0]["latency_ms"].get<double>(), 40.7, 1e-5);  // float column
  EXPECT_EQ(rows[1]["V_m"].get<double>(), -60.0);
  EXPECT_LT(rows[1]["latency_ms"].get<double>(), 40.0);
}

TEST_F(RunTest, BadInputGetsClearErrorsAndLeavesNothing) {
  const auto good = write("good.json", kGrid);
  const auto out = dir / "out.h5";
  write("text.h5", "not an hdf5 file\n");
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"run " + (dir / "missing.json").string() + " -o OUT", "missing.json"},
      {"run " + write("syntax.json", "{\"model\": \"stg\",, }").string() + " -o OUT", "syntax.json:1"},
      {"run " + write("unknown.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"axis":[]})").string() + " -o OUT", "axis"},
      {"run " + write("model.json", R"({"model":"hh2000","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1})").string() + " -o OUT", "hh2000"},
      {"run " + write("negdt.json", R"({"model":"stg","dt":"-0.05 ms","transient":"0 ms","analysis":"10 s","seed":1})").string() + " -o OUT", "dt"},
      {"run " + write("nan.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"fixed":{"gNa":"NaN"}})").string() + " -o OUT", "gNa"},
      {"run " + write("empty.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"axes":[{"kind":"grid","param":"gNa","values":[]}]})").string() + " -o OUT", "values"},
      {"run " + write("huge.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"axes":[{"kind":"grid","param":"gNa","linspace":{"start":0,"stop":1,"count":10000000}},{"kind":"grid","param":"gKd","linspace":{"start":0,"stop":1,"count":10000000}},{"kind":"grid","param":"gA","linspace":{"start":0,"stop":1,"count":10000000}}]})").string() + " -o OUT", "instances"},
      {"run " + write("short.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"2 s","seed":1})").string() + " -o OUT", "shorter than the classifier needs"},
      {"run " + write("param.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"fixed":{"gNaa":1}})").string() + " -o OUT", "gNaa"},
      {"run " + write("type.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":"one"})").string() + " -o OUT", "seed"},
      {"run " + write("cls.json", R"({"model":"stg","dt":"0.05 ms","transient":"0 ms","analysis":"10 s","seed":1,"classifier":{"min_spike":3}})").string() + " -o OUT", "classifier.min_spike"},
      {"run " + good.string() + " -o " + (dir / "nodir" / "x.h5").string(), "does not exist"},
      {"run " + good.string() + " -o OUT --resume", "OUT"},
      {"run " + good.string() + " -o " + (dir / "text.h5").string() + " --resume", "text.h5"},
      {"run " + good.string() + " -o OUT --shard 3/2", "--shard"},
      {"run " + good.string() + " -o OUT --shard x", "--shard"},
      {"run " + good.string() + " -o OUT --backend tpu", "tpu"},
      {"run " + good.string() + " -o OUT --backend cuda", "CUDA"},
      {"info " + (dir / "nothing.h5").string(), "nothing.h5"},
      {"info " + (dir / "text.h5").string(), "text.h5"},
      {"query " + (dir / "text.h5").string(), "text.h5"},
      {"merge " + (dir / "text.h5").string() + " -o OUT", "text.h5"},
      {"simulate --preset ABPD9", "ABPD9"},
      {"simulate --param gNa=abc", "abc"},
  };
  for (const auto& c : cases) {
    std::string args = c.args, expect = c.expect;
    for (size_t p; (p = args.find("OUT")) != std::string::npos;) args.replace(p, 3, out.string());
    if (expect == "OUT") expect = out.string();
    const auto r = cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.err.find(expect), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << args;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_FALSE(fs::exists(out.string() + ".parts")) << args;
  }
  EXPECT_GE(cases.size(), 20u);
  // An existing database is never overwritten without --force.
  ASSERT_EQ(cli("run " + good.string() + " -o " + out.string() + " -q").code, 0);
  const auto before = csv(out);
  const auto r = cli("run " + good.string() + " -o " + out.string() + " -q");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(before, csv(out));
  // A spec that differs from the one in an unfinished build is refused on resume.
}

// ---- issue 13: hostile use of --force, temporary names, signals ----------------------------------
namespace {

// 12 NEST iaf_psc_exp neurons, 1 s each: builds in well under a second.
const char* kTiny = R"({
  "model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s", "seed": 1,
  "classifier": {"slowest_period_ms": 250},
  "axes": [{"kind": "grid", "param": "I_e", "linspace": {"start": 0, "stop": 1100, "count": 12}}],
  "output": {"spikes": 8}
})";

// Recursive listing with a hash of each file's content (links as "-> target"): what must stay untouched.
std::string snapshot(const fs::path& root) {
  std::string s;
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
    all.push_back(it->path());
  std::sort(all.begin(), all.end());
  for (const auto& p : all) {
    s += fs::relative(p, root).string();
    const auto st = fs::symlink_status(p);
    if (fs::is_symlink(st)) s += " -> " + fs::read_symlink(p).string();
    else if (fs::is_regular_file(st)) s += " = " + std::to_string(std::hash<std::string>{}(slurp(p)));
    else if (fs::is_directory(st)) s += " /";
    else s += " (special)";
    s += "\n";
  }
  return s;
}

}  // namespace

// --force replaces only a regular file that is a neurosweep database: a directory, a foreign file,
// a symbolic link (even to a database elsewhere), a FIFO, the current directory and a parts
// directory holding a user's file are all refused and left exactly as they were, by run and merge.
TEST_F(RunTest, ForceReplacesOnlyNeurosweepDatabases) {
  const auto spec = write("tiny.json", kTiny);
  const fs::path scratch = dir / "scratch";
  fs::create_directories(scratch / "results");
  std::ofstream(scratch / "results" / "thesis.tex") << "three years of work";
  std::ofstream(scratch / "notes.h5") << "not a database";
  fs::create_directories(dir / "elsewhere");
  ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "elsewhere" / "real.h5").string() + " -q").code, 0);
  fs::create_symlink(dir / "elsewhere" / "real.h5", scratch / "link.h5");
  ASSERT_EQ(::mkfifo((scratch / "pipe.h5").c_str(), 0644), 0);
  fs::create_directories(scratch / "mine.h5.parts");
  std::ofstream(scratch / "mine.h5.parts" / "manifest.json") << "{}";
  std::ofstream(scratch / "mine.h5.parts" / "data.csv") << "a user's file";
  const std::string before = snapshot(scratch), before_real = slurp(dir / "elsewhere" / "real.h5");
  ASSERT_EQ(cli("run " + spec.string() + " -o " + (dir / "shard.h5").string() + " -q --shard 0/1").code, 0);
  struct Case {
    std::string out, why;
  };
  const std::vector<Case> cases = {{(scratch / "results").string(), "is a directory"},
                                   {(scratch / ".").string(), "is a directory"},
                                   {(scratch / "notes.h5").string(), "not a neurosweep database"},
                                   {(scratch / "link.h5").string(), "symbolic link"},
                                   {(scratch / "pipe.h5").string(), "not a regular file"},
                                   {(scratch / "mine.h5").string(), "data.csv"}};
  for (const auto& c : cases) {
    for (const std::string cmd : {"run " + spec.string() + " -o " + c.out + " -q --force",
                                  "merge " + (dir / "shard.h5").string() + " -o " + c.out + " --force"}) {
      const auto r = cli(cmd);
      EXPECT_NE(r.code, 0) << cmd;
      EXPECT_NE(r.err.find(c.why), std::string::npos) << cmd << "\n" << r.err;
      EXPECT_NE(r.err.find("nothing was touched"), std::string::npos) << cmd << "\n" << r.err;
      EXPECT_EQ(snapshot(scratch), before) << cmd;
      EXPECT_EQ(slurp(dir / "elsewhere" / "real.h5"), before_real) << cmd;
    }
  }
  // A database is replaced, by run and by merge.
  const auto db = scratch / "db.h5";
  ASSERT_EQ(cli("run " + spec.string() + " -o " + db.string() + " -q").code, 0);
  auto r = cli("run " + spec.string() + " -o " + db.string() + " -q --force");
  EXPECT_EQ(r.code, 0) << r.err;
  r = cli("merge " + (dir / "shard.h5").string() + " -o " + db.string() + " --force");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(csv(db), csv(dir / "elsewhere" / "real.h5"));
}

// A user's OUT.h5.tmp is not ours: run and merge leave it alone (they write elsewhere).
TEST_F(RunTest, UsersTmpFileNextToTheOutputIsNeverTouched) {
  const auto spec = write("tiny.json", kTiny);
  const auto db = dir / "db.h5", merged = dir / "merged.h5";
  write("db.h5.tmp", "my notes");
  write("merged.h5.tmp", "more notes");
  auto r = cli("run " + spec.string() + " -o " + db.string() + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  r = cli("merge " + db.string() + " -o " + merged.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(dir / "db.h5.tmp"), "my notes");
  EXPECT_EQ(slurp(dir / "merged.h5.tmp"), "more notes");
  EXPECT_EQ(csv(db), csv(merged));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
}

// A --force rebuild that is killed leaves the old database intact (the new one is built beside
// it and renamed over it only when complete); --resume then completes the new build.
TEST_F(RunTest, KilledForceRebuildLeavesTheOldDatabase) {
  const auto spec = write("grid.json", kGrid);
  const auto db = dir / "db.h5";
  ASSERT_EQ(cli("run " + spec.string() + " -o " + db.string() + " -q --chunk 3").code, 0);
  const std::string before = slurp(db), parts = db.string() + ".parts";
  const int st = run_and_signal(spec, db, 2, SIGKILL, true);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the build finished before it could be killed";
  EXPECT_EQ(slurp(db), before) << "the old database was altered by a killed --force rebuild";
  const auto r = cli("run " + spec.string() + " -o " + db.string() + " -q --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(parts));
}

// SIGINT, SIGTERM and SIGHUP: the build finishes the chunk in flight, keeps every chunk done,
// prints the exact --resume command and exits 128 + the signal; the resumed build completes.
TEST_F(RunTest, SignalsStopTheBuildAndSayHowToResume) {
  const auto spec = write("grid.json", kGrid);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    const auto db = dir / ("sig" + std::to_string(sig) + ".h5");
    const std::string parts = db.string() + ".parts", err = (dir / "err.txt").string();
    const int st = run_and_signal(spec, db, 1, sig, false, err);
    ASSERT_TRUE(WIFEXITED(st)) << "signal " << sig << " killed the build instead of stopping it";
    EXPECT_EQ(WEXITSTATUS(st), 128 + sig);
    const std::string e = slurp(err);
    const std::string cmd = "neurosweep run " + spec.string() + " -o " + db.string() + " --resume --threads 1";
    EXPECT_NE(e.find("interrupted by"), std::string::npos) << e;
    EXPECT_NE(e.find(cmd), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(db));
    int chunks = 0;
    for (auto& f : fs::directory_iterator(parts)) chunks += f.path().filename().string().rfind("chunk-", 0) == 0;
    EXPECT_GE(chunks, 1);
    const auto r = cli("run " + spec.string() + " -o " + db.string() + " --resume -q");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string rows = csv(db);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 36);
  }
}

// A resumed build keeps its chunk size (and says that --chunk is ignored); timings record the
// chunk size and the thread count actually used.
TEST_F(RunTest, ResumeKeepsItsChunkSizeAndTimingsRecordWhatWasUsed) {
  const auto spec = write("tiny.json", kTiny);
  const auto db = dir / "db.h5";
  auto r = cli("run " + spec.string() + " -o " + db.string() + " --chunk 4 --threads 2 --stop-after-chunks 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = cli("run " + spec.string() + " -o " + db.string() + " --chunk 32 --threads 2 --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--chunk 32 ignored: the build being resumed uses chunks of 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 chunk(s) of 4 to do"), std::string::npos) << r.err;
  r = cli("info " + db.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"chunk\":4,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"threads\":2,"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"threads\":0"), std::string::npos) << r.out;
}

// Sensitivity probe (issue 14): label_probe must be the label a separate build under the
// perturbation gives (an independent run of the same instances), and robust = same label and
// rate within max(5%, 2 spikes per window).
TEST_F(RunTest, ProbeStoresTheSecondLabelAndRobustness) {
  auto column = [&](const fs::path& db, const std::string& cols) {
    const auto r = cli("query " + db.string() + " --columns " + cols + " --format csv");
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<std::string> rows;
    std::istringstream in(r.out);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, cols);
    while (std::getline(in, line)) rows.push_back(line);
    return rows;
  };
  std::string grid = kGrid;
  for (const auto& [probe, other] :
       {std::make_pair(std::string(R"("integration")"), std::string(R"("integration": "prinz")")),
        std::make_pair(std::string(R"("precision")"), std::string(R"("precision": "double", "gating": "direct")"))}) {
    SCOPED_TRACE(probe);
    const std::string base = grid.substr(0, grid.rfind('}'));
    const auto sp = write("p.json", base + ", \"probe\": " + probe + "}");
    const auto so = write("o.json", base + ", " + other + "}");
    const auto dp = dir / "p.h5", dq = dir / "o.h5";
    auto r = cli("run " + sp.string() + " -o " + dp.string() + " -q --force");
    ASSERT_EQ(r.code, 0) << r.err;
    r = cli("run " + so.string() + " -o " + dq.string() + " -q --force");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto a = column(dp, "index,label,label_probe,robust,rate_hz");
    const auto b = column(dq, "index,label,rate_hz");
    ASSERT_EQ(a.size(), 35u);
    ASSERT_EQ(b.size(), 35u);
    int flagged = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      char l1[64], l2[64], rb[16], lo[64];
      unsigned ia, ib;
      double ra, ro;
      ASSERT_EQ(std::sscanf(a[i].c_str(), "%u,%63[^,],%63[^,],%15[^,],%lf", &ia, l1, l2, rb, &ra), 5) << a[i];
      ASSERT_EQ(std::sscanf(b[i].c_str(), "%u,%63[^,],%lf", &ib, lo, &ro), 3) << b[i];
      EXPECT_EQ(std::string(l2), std::string(lo)) << "instance " << ia;
      const bool agree = std::string(l1) == lo &&
                         std::fabs(ra - ro) <= std::max(0.05 * std::max(ra, ro), 2 * 1000.0 / 4000.0) + 1e-4;
      EXPECT_EQ(std::string(rb), agree ? "yes" : "no") << a[i] << " vs " << b[i];
      flagged += agree ? 0 : 1;
    }
    std::printf("[ info ] probe %s: %d of 35 flagged\n", probe.c_str(), flagged);
  }
  // bad probes name the key and the value
  const std::string base = grid.substr(0, grid.rfind('}'));
  auto r = cli("run " + write("b.json", base + R"(, "probe": "rk4"})").string() + " -o " + (dir / "b.h5").string() + " -q");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("probe"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rk4"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "b.h5"));
}
