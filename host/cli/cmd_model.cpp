// `neurosweep model build FILE.nestml`: generate, compile (unless cached) and load a NESTML model
// plugin (host/models/plugin.hpp, docs/NESTML.md), and say what was done. `neurosweep model cache`:
// the cache directory and the models in it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/plugin.hpp"

namespace {

struct ModelArgs {
  std::string file, solver = "rk45";
  bool force = false, json = false, quiet = false;
};

int model_build(const ModelArgs& a) {
  ns::PluginOptions o;
  o.numeric_solver = a.solver;
  o.force = a.force;
  o.verbose = !a.quiet && !a.json;
  ns::PluginBuild b;
  const ns::ModelDesc* m = nullptr;
  try {
    m = ns::load_nestml_model(a.file, o, &b);
  } catch (const ns::PluginError& e) {
    std::cerr << "neurosweep: error: " << e.what() << "\n";
    return 2;
  }
  if (a.json) {
    nlohmann::json j = {{"name", b.name},         {"source", b.source},       {"library", b.library},
                        {"dir", b.dir},           {"key", b.key},             {"compiled", b.compiled},
                        {"generate_s", b.generate_s}, {"compile_s", b.compile_s}, {"load_s", b.load_s},
                        {"params", m->params.size()}, {"state", m->state.size()}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "model " << b.name << ": " << (b.compiled ? "compiled" : "cached (nothing compiled)") << ", "
              << m->params.size() << " parameters, " << m->state.size() << " state variables\n"
              << "  plugin " << b.library << "\n";
    if (b.compiled)
      std::cout << "  generate " << b.generate_s << " s, compile " << b.compile_s << " s\n";
    std::cout << "  use it: \"model\": \"" << a.file << "\" in a spec (path relative to the spec file), or "
              << "neurosweep models " << b.name << "\n";
  }
  return 0;
}

}  // namespace

void add_model_command(CLI::App& app) {
  static ModelArgs a;
  auto* c = app.add_subcommand("model", "Model plugins: build a .nestml model (generate, compile, cache)");
  c->require_subcommand(1);
  auto* b = c->add_subcommand("build", "Generate and compile FILE.nestml into the model cache (nothing when cached)");
  b->add_option("file", a.file, "The .nestml file")->required();
  b->add_option("--numeric-solver", a.solver, "NESTML numeric solver of non-linear ODEs: rk45 or forward-Euler")
      ->capture_default_str();
  b->add_flag("--force", a.force, "Rebuild even when cached");
  b->add_flag("--json", a.json, "Machine-readable JSON output");
  b->add_flag("-q,--quiet", a.quiet, "No progress lines on stderr");
  b->callback([] { std::exit(model_build(a)); });
  auto* k = c->add_subcommand("cache", "The model cache directory and the models built in it for this neurosweep");
  k->callback([] {
    std::cout << ns::plugin_cache_dir() << "\n";
    for (const auto& n : ns::cached_plugin_names()) std::cout << "  " << n << "\n";
    std::exit(0);
  });
}
