#pragma once
// Models compiled and loaded at run time (docs/NESTML.md, "Plugins"): a .nestml file becomes a
// generated model header (python/neurosweep/nestml), compiled with the compiler and flags that
// built neurosweep into a shared library that instantiates the CPU backend's SIMD tiles
// (include/neurosweep/cpu_tiles.hpp) for the model type (host/models/plugin_entry.hpp), cached by a
// hash of its inputs, loaded with dlopen and registered beside the built-in models: find_model,
// model_names, spec parsing, validation, classification, the CPU backend and `neurosweep simulate`
// treat it like a built-in.
//
// The plugin's interface is one C symbol, neurosweep_plugin_v1(), returning a PluginApi table of
// plain function pointers. The functions take neurosweep's C++ types (RunSettings, ChunkOutput,
// ModelDesc): the plugin is compiled by the same compiler, with the same flags, against the same
// headers (all three are in the cache key, and the plugin carries its key, checked on load), so
// the layouts agree. Plugins are never unloaded (their ModelDesc points into them).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace ns {

constexpr int kPluginAbi = 2;

// Trace sampling callback of PluginApi::trace (state as doubles, in state order).
using PluginRecord = void (*)(void* ctx, int64_t step, const double* state);

struct PluginApi {
  int abi;          // kPluginAbi
  const char* key;  // the cache key it was built for (PluginBuild::key)
  ModelDesc (*describe)();
  // The CPU backend's chunk (SIMD tiles, OpenMP) and the scalar reference path, into an output
  // the host has sized (ChunkOutput::resize with the description's n_obs and state count; the
  // plugin calls no function of the executable). Use run_plugin_cpu / run_plugin_reference.
  void (*run_cpu)(const RunSettings& s, const ChunkInput& in, const OutputView& out);
  void (*run_reference)(const RunSettings& s, const ChunkInput& in, const OutputView& out);
  // One instance (`neurosweep simulate`, Engine.trace): out resized by the caller (1 instance,
  // n_obs, state, final state on), random input keyed by instance `index`, rec(ctx, step, state)
  // at step 0 and every step; returns whether the model stamps spikes on the grid (reset_spikes).
  bool (*trace)(const RunSettings& s, const double* params, const double* init, uint64_t index,
                const OutputView& out, PluginRecord rec, void* ctx);
};

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PluginOptions {
  std::string numeric_solver = "rk45";  // NESTML numeric solver: rk45 | forward-Euler
  bool force = false;                   // rebuild even when cached
  bool verbose = false;                 // log the steps (generation, compilation) on stderr
};

// What load_nestml_model did.
struct PluginBuild {
  std::string name;         // the model's registered name (NESTML model name)
  std::string source;       // absolute path of the .nestml file
  std::string dir;          // cache entry (header, plugin source, build log, library)
  std::string library;      // the shared library
  std::string key;          // hex hash of the inputs
  bool compiled = false;    // false: taken from the cache
  double generate_s = 0, compile_s = 0, load_s = 0;
};

// The cache directory: $NEUROSWEEP_CACHE, else $XDG_CACHE_HOME/neurosweep/models, else
// ~/.cache/neurosweep/models.
std::string plugin_cache_dir();

// Generates, compiles (unless cached) and loads the .nestml file, and registers its model.
// Errors (PluginError): NESTML's file:line messages, refused constructs by name, a compile
// failure with the generated file's path and the first compiler error, a name that is a built-in
// model's, two different files defining one model name.
const ModelDesc* load_nestml_model(const std::string& nestml_path, const PluginOptions& opt = {},
                                   PluginBuild* info = nullptr);

// The same for a model header written in C++ (type: its model struct, e.g. ::ns::MyModel): compiled
// and loaded as a plugin. The header route of the compile step (tests; hand-written models).
const ModelDesc* load_model_header(const std::string& header_path, const std::string& type,
                                   const PluginOptions& opt = {}, PluginBuild* info = nullptr);

// A loaded plugin model (nullptr when none of that name is loaded).
const PluginApi* find_plugin(const std::string& name);
// The backends' calls: false when s.model is no loaded plugin, else out resized and filled.
bool run_plugin_cpu(const RunSettings& s, const ChunkInput& in, ChunkOutput& out);
bool run_plugin_reference(const RunSettings& s, const ChunkInput& in, ChunkOutput& out);
// The CUDA backend's call (registered with set_plugin_cuda_runner when a plugin loads): false when
// s.model is no loaded plugin; else the plugin's CUDA module (kernels/plugin_cuda_entry.cuh: the
// CUDA backend's kernels for the model type) is compiled by nvcc into the cache entry on first use
// (cuda-<key>.so, key: nvcc, its version and flags, the kernel headers), loaded, and run on
// `device`. Errors: PluginError (compile) or BackendError (run).
bool run_plugin_cuda(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int device);
// find_model's fallback: a loaded plugin model, else the newest cached plugin of that name
// (loaded; so `neurosweep simulate --model NAME` works after a build), else nullptr.
const ModelDesc* find_plugin_model(const std::string& name);
std::vector<std::string> plugin_model_names();  // loaded plugins, in load order
// Names of the models in the cache (not loaded).
std::vector<std::string> cached_plugin_names();

bool is_nestml_path(const std::string& model);  // ends in ".nestml"

// The backend choice for a model: a plugin model runs on the CPU with "auto" (with a notice) and on
// the GPU with "cuda" (its CUDA module; refused naming the model when the CUDA backend is not
// built); others: `which` unchanged.
std::string backend_for_model(const std::string& which, const std::string& model, std::string* notice);
// The project's Python (the NESTML generator's and `neurosweep explore`'s): $NEUROSWEEP_PYTHON,
// else <source>/.venv/bin/python, else python3.
std::string plugin_python();

}  // namespace ns
