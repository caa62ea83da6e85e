// `neurosweep refine DB -o DB2`: refine a grid database where labels change (run/refine.hpp).
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "run/refine.hpp"

namespace ns {

// Adds the subcommand; the returned function runs it when it was given on the command line (its
// exit code), else returns -1.
std::function<int()> add_refine_command(CLI::App& app) {
  auto o = std::make_shared<RefineOptions>();
  auto* c = app.add_subcommand("refine", "Subdivide the grid cells whose corners carry different labels, recursively");
  c->add_option("db", o->db, "Complete grid database")->required();
  c->add_option("-o,--out", o->out, "Refined database (the grid plus /refined)")->required();
  c->add_option("--depth", o->depth, "Levels of refinement: cells down to 2^-depth of the grid spacing (1-16)")
      ->capture_default_str();
  c->add_option("--budget", o->budget, "Most new points in all (0: no limit)")->capture_default_str();
  c->add_option("--label", o->label_column, "Column whose changes are refined (an integer/label column)")
      ->capture_default_str();
  c->add_option("--backend", o->backend, "auto, cpu or cuda")->capture_default_str();
  c->add_option("--threads", o->threads, "CPU threads (0: all cores)");
  c->add_option("--chunk", o->chunk, "Instances per chunk (0: backend default)");
  c->add_option("--stop-after-chunks", o->stop_after_chunks, "Per level build: commit N chunks, then stop (resume later)");
  c->add_flag("--resume", o->resume, "Continue an interrupted refinement");
  c->add_flag("--force", o->force, "Replace an existing output or unfinished refinement");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
  return [o, c] { return c->parsed() ? run_refine(*o) : -1; };
}

}  // namespace ns
