#pragma once
// A gtest fixture for end-to-end tests through the real command line (NS_CLI_PATH): a fresh
// temporary directory per test, `neurosweep ARGS` with its exit code, stdout and stderr, and spec
// files written into the directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nstest {

struct CliResult {
  int code;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// prefix: the temporary directory's name starts with it (then the pid and the test's name).
class CliTest : public ::testing::Test {
 protected:
  explicit CliTest(std::string prefix) : prefix_(std::move(prefix)) {}
  std::filesystem::path dir;
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          (prefix_ + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  CliResult cli(const std::string& args) {
    const std::string o = (dir / "stdout.txt").string(), e = (dir / "stderr.txt").string();
    const std::string cmd = std::string(NS_CLI_PATH) + " " + args + " >" + o + " 2>" + e;
    const int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(o), slurp(e)};
  }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const std::filesystem::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string prefix_;
};

}  // namespace nstest
