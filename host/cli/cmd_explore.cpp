// `neurosweep explore DB`: the web explorer (python/neurosweep/explorer) in the project's Python
// environment (ns::plugin_python, the interpreter the NESTML generator uses too). This command
// only finds that Python and replaces itself with `python -m neurosweep.explorer DB --binary <this
// executable> ...` (execv): the app is Python (Panel, Bokeh, datashader), this executable stays
// free of any web stack.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "models/plugin.hpp"

namespace fs = std::filesystem;

namespace {

struct ExploreArgs {
  std::string db, address = "127.0.0.1", export_dir;
  int port = 0;
  bool show = false;
};

[[noreturn]] void exec_explorer(const ExploreArgs& a) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::path("neurosweep");
  const std::string py = ns::plugin_python();  // the one lookup (models/plugin.hpp)
  // a source checkout: its python/ package first (editable installs find themselves anyway)
  const fs::path pkg = self.parent_path().parent_path() / "python";
  if (fs::exists(pkg / "neurosweep" / "explorer", ec)) {
    const char* old = std::getenv("PYTHONPATH");
    const std::string v = pkg.string() + (old && *old ? ":" + std::string(old) : "");
    setenv("PYTHONPATH", v.c_str(), 1);
  }
  std::vector<std::string> args = {py, "-m", "neurosweep.explorer", a.db, "--port", std::to_string(a.port),
                                    "--address", a.address, "--binary", self.string()};
  if (!a.export_dir.empty()) args.insert(args.end(), {"--export-dir", a.export_dir});
  if (a.show) args.push_back("--show");
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  execvp(py.c_str(), argv.data());
  std::cerr << "neurosweep: error: explore: cannot run " << py << ": " << std::strerror(errno)
            << " (set NEUROSWEEP_PYTHON to a Python with the neurosweep package and "
               "scripts/requirements/explorer.txt installed)\n";
  std::exit(2);
}

}  // namespace

void add_explore_command(CLI::App& app) {
  static ExploreArgs a;
  auto* c = app.add_subcommand("explore", "Explore a database in the browser (local web app; URL printed)");
  c->add_option("db", a.db, "Database (.h5)")->required();
  c->add_option("--port", a.port, "Port (0: a free one)")->capture_default_str();
  c->add_option("--address", a.address, "Address to listen on")->capture_default_str();
  c->add_option("--export-dir", a.export_dir, "Directory for exports (default: the current directory)");
  c->add_flag("--show", a.show, "Open a browser tab");
  c->callback([] { exec_explorer(a); });
}
