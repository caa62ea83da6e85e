// Model plugins: .nestml -> generated header -> shared library -> registered model (plugin.hpp).
//
// Cache entry <cache>/<stem>-<key>/: model header (generated), plugin.cpp (3 lines: the header,
// NS_PLUGIN_MODEL, host/models/plugin_entry.hpp), build.log (generator and compiler output),
// plugin.so, name, source, toolchain. The key hashes the .nestml file's path and content, the
// numeric solver, the generator's sources (python/neurosweep/nestml: *.py and templates) and the
// installed NESTML version, the compiler, its version and flags, and the content of every header
// the plugin can include (include/, host/models/plugin*.hpp): the second run with the same inputs
// compiles nothing; any changed input compiles a new entry. Entries are built in a temporary
// directory and renamed into place (atomic: concurrent builds, e.g. MPI ranks, are safe).
#include "models/plugin.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "neurosweep/plugin_config.hpp"
#if defined(NEUROSWEEP_HAVE_CUDA)
#include "neurosweep/cuda_backend.hpp"
#endif

namespace fs = std::filesystem;

namespace ns {
namespace {

struct Loaded {
  ModelDesc desc;
  const PluginApi* api = nullptr;
  std::string source, key, dir;
  // The CUDA module (run_plugin_cuda): built and loaded on first use; its run function.
  int (*cuda_run)(const RunSettings&, const ChunkInput&, ChunkOutput&, int, char*, size_t) = nullptr;
};

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::deque<Loaded>& loaded() {  // deque: pointers to descs stay valid
  static std::deque<Loaded> l;
  return l;
}

uint64_t fnv(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
std::string hex(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}
// 128-bit key from two FNV-1a streams (different offsets).
std::string hash128(const std::string& s) { return hex(fnv(s)) + hex(fnv(s, 0x84222325cbf29ce4ull)); }

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}
void write_file(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
  if (!f) throw PluginError("cannot write " + p.string());
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) v.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) v.push_back(cur);
  return v;
}

// Files under dir (recursively) whose names end in one of exts, sorted, hashed with their paths.
std::string hash_tree(const fs::path& dir, const std::vector<std::string>& exts) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "none";
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string n = it->path().filename().string();
    if (n.rfind('.', 0) == 0) continue;
    for (const auto& e : exts)
      if (n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0) {
        files.push_back(it->path());
        break;
      }
  }
  std::sort(files.begin(), files.end());
  std::string all;
  for (const auto& f : files) all += fs::relative(f, dir, ec).string() + "\n" + read_file(f) + "\n";
  return hash128(all);
}

std::string python_exe() {
  if (const char* p = std::getenv("NEUROSWEEP_PYTHON"); p && *p) return p;
  std::error_code ec;
  const fs::path venv = fs::path(kPluginSourceDir) / ".venv" / "bin" / "python";
  if (fs::exists(venv, ec)) return venv.string();
  return "python3";
}

// The installed NESTML distribution (its dist-info directory name, e.g. nestml-9.0.0.dist-info)
// next to the interpreter, without starting Python.
std::string nestml_dist(const std::string& py) {
  std::error_code ec;
  fs::path p(py);
  if (!p.has_parent_path()) return "unknown";
  const fs::path lib = p.parent_path().parent_path() / "lib";
  if (!fs::is_directory(lib, ec)) return "unknown";
  for (const auto& d : fs::directory_iterator(lib, ec)) {
    const fs::path sp = d.path() / "site-packages";
    if (!fs::is_directory(sp, ec)) continue;
    for (const auto& e : fs::directory_iterator(sp, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("nestml-", 0) == 0 && n.find(".dist-info") != std::string::npos) return n;
    }
  }
  return "unknown";
}

// The toolchain part of the key: compiler, flags, headers, generator, NESTML.
std::string toolchain_key(const std::string& py) {
  static const std::string k = [&] {
    std::string s = "abi " + std::to_string(kPluginAbi) + "\ncxx " + kPluginCxx + " " + kPluginCxxId + "\nflags " +
                    kPluginCxxFlags + "\nincludes " + kPluginIncludes + "\n";
    const fs::path src(kPluginSourceDir);
    s += "headers " + hash_tree(src / "include", {".hpp", ".h"}) + "\n";
    s += "plugin " + hash128(read_file(src / "host" / "models" / "plugin.hpp") +
                             read_file(src / "host" / "models" / "plugin_entry.hpp") +
                             read_file(src / "host" / "models" / "describe_header.hpp")) + "\n";
    s += "generator " + hash_tree(src / "python" / "neurosweep" / "nestml", {".py", ".jinja2"}) + "\n";
    s += "python " + py + " " + nestml_dist(py) + "\n";
    return hash128(s);
  }();
  return k;
}

// Run argv (cwd: dir), stdout and stderr to files; the exit status (127: could not start).
int run_process(const std::vector<std::string>& argv, const fs::path& dir, const fs::path& out,
                const fs::path& err, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const pid_t pid = fork();
  if (pid < 0) throw PluginError(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(127);
    const int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fo < 0 || fe < 0) _exit(127);
    dup2(fo, 1);
    dup2(fe, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    const std::string m = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!write(2, m.data(), m.size());
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// The first compiler error (GCC/Clang: "file:line:col: error: ..."), with its file shown in full.
std::string first_error(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find(": error:") != std::string::npos || line.find(": fatal error:") != std::string::npos) return line;
  in.clear();
  std::istringstream in2(log);
  while (std::getline(in2, line))
    if (!line.empty()) return line;
  return "(no compiler output)";
}

bool is_builtin(const std::string& name) {
  return dispatch_model(name, [](auto*) {});
}

// dlopen an entry, check it, register its model (mu() held).
const Loaded& load_entry(const fs::path& dir, const std::string& expect_key, const std::string& source) {
  const fs::path lib = dir / "plugin.so";
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) throw PluginError("cannot load the model plugin " + lib.string() + ": " + dlerror());
  auto* entry = reinterpret_cast<const PluginApi* (*)()>(dlsym(h, "neurosweep_plugin_v1"));
  if (!entry) throw PluginError(lib.string() + ": not a neurosweep model plugin (no neurosweep_plugin_v1)");
  const PluginApi* api = entry();
  if (!api || api->abi != kPluginAbi || std::string(api->key) != expect_key)
    throw PluginError(lib.string() + ": built for another neurosweep (plugin ABI or key differs; delete the entry or rebuild with --force)");
  ModelDesc d = api->describe();
  if (is_builtin(d.name))
    throw PluginError(source + ": model '" + d.name + "' has the name of a built-in model; rename the NESTML model (`model NAME:`)");
  for (auto& l : loaded())
    if (l.desc.name == d.name) {
      if (l.key == expect_key) return l;
      throw PluginError(source + ": model '" + d.name + "' is already loaded from " + l.source +
                        " (another file or version); one model name per run");
    }
  loaded().push_back(Loaded{std::move(d), api, source, expect_key, dir.string()});
#if defined(NEUROSWEEP_HAVE_CUDA)
  set_plugin_cuda_runner(&run_plugin_cuda);  // the CUDA backend's way to plugin models
#endif
  return loaded().back();
}

// Compiles tmp/plugin.cpp (the header, NS_PLUGIN_MODEL = type, plugin_entry.hpp) into
// tmp/plugin.so with neurosweep's compiler and flags and moves tmp to dir; on a compile failure
// keeps tmp as <stem>-<key>.failed and throws with the header's path and the first error.
void compile_entry(const fs::path& cache, const fs::path& tmp, const fs::path& dir, const std::string& stem,
                   const std::string& key, const std::string& tool, const std::string& header, const std::string& type,
                   const std::string& name, const std::string& source, bool verbose, PluginBuild& b) {
  std::error_code ec;
  write_file(tmp / "plugin.cpp", "// neurosweep model plugin for " + source + " (host/models/plugin.cpp)\n#include \"" +
                                     header + "\"\n#define NS_PLUGIN_MODEL " + type +
                                     "\n#include \"models/plugin_entry.hpp\"\n");
  std::vector<std::string> argv = {kPluginCxx};
  for (const auto& f : split(kPluginCxxFlags, ' ')) argv.push_back(f);
  for (const auto& inc : split(kPluginIncludes, ';')) argv.push_back("-I" + inc);
  argv.push_back("-DNS_PLUGIN_KEY=\"" + key + "\"");
  argv.insert(argv.end(), {"plugin.cpp", "-o", "plugin.so.tmp"});
  const auto t0 = std::chrono::steady_clock::now();
  if (verbose) std::cerr << "neurosweep: compiling " << (tmp / header).string() << "\n";
  std::string cmdline;
  for (const auto& a : argv) {  // shell-quoted
    std::string q = "'";
    for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    cmdline += q + "' ";
  }
  write_file(tmp / "compile.sh", "cd \"$(dirname \"$0\")\" && " + cmdline + "\n");
  const int crc = run_process(argv, tmp, tmp / "compile.out", tmp / "build.log");
  b.compile_s = seconds_since(t0);
  if (crc != 0) {
    const fs::path failed = cache / (stem + "-" + key.substr(0, 20) + ".failed");
    fs::remove_all(failed, ec);
    fs::rename(tmp, failed, ec);
    const fs::path where = ec ? tmp : failed;
    const std::string first = first_error(read_file(where / "build.log"));
    throw PluginError(source + ": the generated code does not compile: " + (where / header).string() +
                      "\n  first compiler error: " + first + "\n  full log: " + (where / "build.log").string() +
                      "\n  command: " + (where / "compile.sh").string());
  }
  fs::rename(tmp / "plugin.so.tmp", tmp / "plugin.so");
  write_file(tmp / "name", name + "\n");
  write_file(tmp / "source", source + "\n");
  write_file(tmp / "toolchain", tool + "\n");
  write_file(tmp / "key", key + "\n");
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process put the same entry in place first
  b.compiled = true;
}

}  // namespace

std::string plugin_cache_dir() {
  if (const char* c = std::getenv("NEUROSWEEP_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "neurosweep" / "models").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".cache" / "neurosweep" / "models").string();
}

std::string plugin_python() { return python_exe(); }

std::string backend_for_model(const std::string& which, const std::string& model, std::string* notice) {
  if (!find_plugin(model)) return which;
  if (which == "cuda" && !*kPluginNvcc)
    throw BackendError("--backend cuda: model '" + model +
                       "' is a NESTML plugin and this neurosweep was built without the CUDA backend; use --backend cpu");
  if (which == "auto" && notice)
    *notice = "backend auto: model '" + model + "' is a NESTML plugin; using the CPU backend (--backend cuda compiles "
              "and runs its CUDA module)";
  return which == "auto" ? "cpu" : which;
}

bool is_nestml_path(const std::string& m) {
  return m.size() > 7 && m.compare(m.size() - 7, 7, ".nestml") == 0;
}

// The cache entry of a source: <cache>/<stem>-<key prefix> (PluginBuild's paths), and a fresh
// temporary folder beside it for a build (compile_entry renames it into place).
struct CacheEntry {
  fs::path cache, dir;
  std::string stem;
  PluginBuild b;
};
CacheEntry cache_entry(const std::string& source, const std::string& key) {
  CacheEntry e;
  e.cache = plugin_cache_dir();
  e.stem = fs::path(source).stem().string();
  e.dir = e.cache / (e.stem + "-" + key.substr(0, 20));
  e.b.source = source;
  e.b.dir = e.dir.string();
  e.b.library = (e.dir / "plugin.so").string();
  e.b.key = key;
  return e;
}
fs::path fresh_tmp(const CacheEntry& e) {
  std::error_code ec;
  fs::create_directories(e.cache, ec);
  if (ec) throw PluginError("cannot create the model cache " + e.cache.string() + ": " + ec.message() + " (set NEUROSWEEP_CACHE)");
  const fs::path tmp = e.cache / (".tmp-" + e.stem + "-" + e.b.key.substr(0, 20) + "-" + std::to_string(getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  return tmp;
}

const ModelDesc* load_nestml_model(const std::string& nestml_path, const PluginOptions& opt, PluginBuild* info) {
  const auto t_all = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!fs::is_regular_file(nestml_path, ec)) throw PluginError(nestml_path + ": no such NESTML file");
  if (opt.numeric_solver != "rk45" && opt.numeric_solver != "forward-Euler")
    throw PluginError(nestml_path + ": numeric solver '" + opt.numeric_solver + "': expected rk45 or forward-Euler");
  const std::string source = fs::canonical(nestml_path).string();
  const std::string py = python_exe();
  const std::string tool = toolchain_key(py);
  const std::string key =
      hash128("source " + source + "\n" + read_file(source) + "\nsolver " + opt.numeric_solver + "\ntoolchain " + tool);
  CacheEntry e = cache_entry(source, key);
  const fs::path &cache = e.cache, &dir = e.dir;
  const std::string& stem = e.stem;
  PluginBuild& b = e.b;
  std::lock_guard<std::mutex> lock(mu());
  for (const auto& l : loaded())
    if (l.key == key) {
      b.name = l.desc.name;
      if (info) *info = b;
      return &l.desc;
    }
  if (opt.force && fs::exists(dir, ec)) fs::remove_all(dir, ec);
  if (!fs::exists(dir / "plugin.so", ec)) {
    const fs::path tmp = fresh_tmp(e);
    const fs::path log = tmp / "build.log";
    // 1. generate (PyNESTML + neurosweep's target)
    auto t0 = std::chrono::steady_clock::now();
    if (opt.verbose) std::cerr << "neurosweep: generating " << source << " (NESTML, " << py << ")\n";
    const char* old = std::getenv("PYTHONPATH");
    const std::string pp = (fs::path(kPluginSourceDir) / "python").string() + (old && *old ? ":" + std::string(old) : "");
    const int rc = run_process({py, "-m", "neurosweep.nestml", "generate", source, tmp.string(), "--numeric-solver",
                                opt.numeric_solver},
                               tmp, tmp / "generate.json", log, {{"PYTHONPATH", pp}});
    b.generate_s = seconds_since(t0);
    if (rc != 0) {
      const std::string msg = trim(read_file(log));
      fs::remove_all(tmp, ec);
      if (rc == 2) throw PluginError(msg);  // NESTML's file:line messages, refused constructs
      throw PluginError(source + ": the NESTML generator failed (" + py + " -m neurosweep.nestml, exit " +
                        std::to_string(rc) + "; set NEUROSWEEP_PYTHON to a Python with nestml installed):\n" + msg);
    }
    nlohmann::json g;
    try {
      g = nlohmann::json::parse(read_file(tmp / "generate.json"));
    } catch (const std::exception& e) {
      throw PluginError(source + ": the NESTML generator's answer is not JSON: " + e.what());
    }
    const std::string header = fs::path(g.at("header").get<std::string>()).filename().string();
    compile_entry(cache, tmp, dir, stem, key, tool, header, "::ns::nestml::" + g.at("struct").get<std::string>(),
                  g.at("name").get<std::string>(), source, opt.verbose, b);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Loaded& l = load_entry(dir, key, source);
  b.load_s = seconds_since(t0);
  b.name = l.desc.name;
  if (opt.verbose)
    std::cerr << "neurosweep: model '" << b.name << "' " << (b.compiled ? "compiled" : "cached") << " in "
              << seconds_since(t_all) << " s: " << b.library << "\n";
  if (info) *info = b;
  return &l.desc;
}

const ModelDesc* load_model_header(const std::string& header_path, const std::string& type, const PluginOptions& opt,
                                   PluginBuild* info) {
  std::error_code ec;
  if (!fs::is_regular_file(header_path, ec)) throw PluginError(header_path + ": no such model header");
  const std::string source = fs::canonical(header_path).string();
  const std::string tool = toolchain_key(python_exe());
  const std::string key = hash128("header " + source + "\n" + read_file(source) + "\ntype " + type + "\ntoolchain " + tool);
  CacheEntry e = cache_entry(source, key);
  const fs::path &cache = e.cache, &dir = e.dir;
  const std::string& stem = e.stem;
  PluginBuild& b = e.b;
  std::lock_guard<std::mutex> lock(mu());
  if (opt.force) fs::remove_all(dir, ec);
  if (!fs::exists(dir / "plugin.so", ec)) {
    const fs::path tmp = fresh_tmp(e);
    const std::string header = fs::path(source).filename().string();
    fs::copy_file(source, tmp / header, fs::copy_options::overwrite_existing);
    compile_entry(cache, tmp, dir, stem, key, tool, header, type, "", source, opt.verbose, b);
  }
  const Loaded& l = load_entry(dir, key, source);
  b.name = l.desc.name;
  if (info) *info = b;
  return &l.desc;
}

const PluginApi* find_plugin(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu());
  for (const auto& l : loaded())
    if (l.desc.name == name) return l.api;
  return nullptr;
}

namespace {
bool run_plugin(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, bool reference) {
  const Loaded* l = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu());
    for (const auto& x : loaded())
      if (x.desc.name == s.model) l = &x;
  }
  if (!l) return false;
  out.resize(in.n, l->desc.n_obs, s.sim.max_spikes, static_cast<int>(l->desc.state.size()), s.want_final_state);
  (reference ? l->api->run_reference : l->api->run_cpu)(s, in, out.view());
  return true;
}
}  // namespace

bool run_plugin_cpu(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  return run_plugin(s, in, out, false);
}
bool run_plugin_reference(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  return run_plugin(s, in, out, true);
}

namespace {
// kernels/plugin_cuda_entry.cuh's PluginCudaApi (the module is compiled from that header; the host
// does not include CUDA headers): the ABI number and the run function.
constexpr int kPluginCudaAbi = 1;
struct CudaModuleApi {
  int abi;
  int (*run)(const RunSettings&, const ChunkInput&, ChunkOutput&, int, char*, size_t);
};

// The CUDA module's part of the key: nvcc, its version and flags, and the kernel headers it
// compiles (the rest, model header and include/, is in the entry's key already).
std::string cuda_module_key() {
  const fs::path k = fs::path(kPluginSourceDir) / "kernels";
  return hash128(std::string("nvcc ") + kPluginNvcc + " " + kPluginNvccId + "\nflags " + kPluginNvccFlags + "\n" +
                 read_file(k / "cuda_kernels.cuh") + read_file(k / "circuit_kernels.cuh") +
                 read_file(k / "density_kernels.cuh") + read_file(k / "cuda_common.cuh") +
                 read_file(k / "plugin_cuda_entry.cuh") +
                 read_file(fs::path(kPluginSourceDir) / "include" / "neurosweep" / "backend.hpp"))
      .substr(0, 20);
}

// Builds (unless present) and loads the entry's CUDA module <dir>/cuda-<key>.so from plugin.cpp's
// header and model type; mu() held.
void load_cuda_module(Loaded& l) {
  if (l.cuda_run) return;
  if (!*kPluginNvcc)
    throw BackendError("--backend cuda: model '" + l.desc.name + "' is a plugin and this neurosweep was built "
                       "without the CUDA backend (no nvcc); use --backend cpu");
  const fs::path dir(l.dir);
  const fs::path lib = dir / ("cuda-" + cuda_module_key() + ".so");
  std::error_code ec;
  if (!fs::exists(lib, ec)) {
    // plugin.cpp (compile_entry): #include "<header>", #define NS_PLUGIN_MODEL <type>
    std::string header, type;
    std::istringstream in(read_file(dir / "plugin.cpp"));
    for (std::string line; std::getline(in, line);) {
      if (header.empty() && line.rfind("#include \"", 0) == 0) header = line.substr(10, line.size() - 11);
      if (line.rfind("#define NS_PLUGIN_MODEL ", 0) == 0) type = line.substr(24);
    }
    if (header.empty() || type.empty()) throw PluginError((dir / "plugin.cpp").string() + ": cannot read the model header and type");
    const std::string tag = std::to_string(getpid());
    const std::string cu = "plugin_cuda-" + tag + ".cu", tmp = "cuda-" + tag + ".so.tmp";
    write_file(dir / cu, "// CUDA module of the neurosweep model plugin for " + l.source + " (host/models/plugin.cpp)\n#include \"" +
                             header + "\"\n#include \"plugin_cuda_entry.cuh\"\nNS_PLUGIN_CUDA_MODEL(" + type + ")\n");
    std::vector<std::string> argv = {kPluginNvcc};
    for (const auto& f : split(kPluginNvccFlags, ' '))
      if (!f.empty()) argv.push_back(f);
    for (const auto& inc : split(kPluginIncludes, ';')) argv.push_back("-I" + inc);
    argv.push_back("-I" + (fs::path(kPluginSourceDir) / "kernels").string());
    argv.insert(argv.end(), {cu, "-o", tmp});
    std::string cmdline;
    for (const auto& a : argv) cmdline += "'" + a + "' ";
    write_file(dir / ("compile_cuda-" + tag + ".sh"), "cd \"$(dirname \"$0\")\" && " + cmdline + "\n");
    const fs::path log = dir / ("build_cuda-" + tag + ".log");
    std::cerr << "neurosweep: compiling the CUDA module of model '" << l.desc.name << "' (nvcc; once per model)\n";
    const int rc = run_process(argv, dir, dir / ("compile_cuda-" + tag + ".out"), log);
    if (rc != 0)
      throw PluginError(l.source + ": the CUDA module of the generated code does not compile: " + (dir / header).string() +
                        "\n  first compiler error: " + first_error(read_file(log)) + "\n  full log: " + log.string() +
                        "\n  command: " + (dir / ("compile_cuda-" + tag + ".sh")).string());
    fs::rename(dir / tmp, lib, ec);  // atomic; another process may have put the same module in place
    fs::remove(dir / cu, ec);
  }
  // Modules of earlier kernel headers or nvcc (other keys) in this entry are stale: one module per
  // entry (a process that has one of them loaded keeps its mapping).
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name.rfind("cuda-", 0) == 0 && f.path().extension() == ".so" && f.path() != lib) fs::remove(f.path(), ec);
  }
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) throw PluginError("cannot load the CUDA module " + lib.string() + ": " + dlerror());
  auto* entry = reinterpret_cast<const CudaModuleApi* (*)()>(dlsym(h, "neurosweep_plugin_cuda_v1"));
  const CudaModuleApi* api = entry ? entry() : nullptr;
  if (!api || api->abi != kPluginCudaAbi)
    throw PluginError(lib.string() + ": not a CUDA module of this neurosweep (ABI differs; delete it)");
  l.cuda_run = api->run;
}

}  // namespace

bool run_plugin_cuda(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int device) {
  decltype(Loaded::cuda_run) run = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu());
    Loaded* l = nullptr;
    for (auto& x : loaded())
      if (x.desc.name == s.model) l = &x;
    if (!l) return false;
    load_cuda_module(*l);
    run = l->cuda_run;
  }
  char err[2048] = {0};
  if (run(s, in, out, device, err, sizeof err) != 0)
    throw BackendError(std::string("cuda backend (plugin model '") + s.model + "'): " + err);
  return true;
}

std::vector<std::string> plugin_model_names() {
  std::lock_guard<std::mutex> lock(mu());
  std::vector<std::string> v;
  for (const auto& l : loaded()) v.push_back(l.desc.name);
  return v;
}

namespace {
// Cache entries built by this toolchain: (name, dir), newest first.
std::vector<std::pair<std::string, fs::path>> cache_entries() {
  std::vector<std::tuple<fs::file_time_type, std::string, fs::path>> v;
  std::error_code ec;
  const fs::path cache(plugin_cache_dir());
  if (!fs::is_directory(cache, ec)) return {};
  const std::string tool = toolchain_key(python_exe());
  for (const auto& e : fs::directory_iterator(cache, ec)) {
    const fs::path d = e.path();
    if (!fs::exists(d / "plugin.so", ec) || trim(read_file(d / "toolchain")) != tool) continue;
    v.emplace_back(fs::last_write_time(d / "plugin.so", ec), trim(read_file(d / "name")), d);
  }
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<std::pair<std::string, fs::path>> r;
  for (const auto& [t, n, d] : v) r.emplace_back(n, d);
  return r;
}
}  // namespace

const ModelDesc* find_plugin_model(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu());
    for (const auto& l : loaded())
      if (l.desc.name == name) return &l.desc;
  }
  if (name.empty() || is_builtin(name)) return nullptr;
  for (const auto& [n, d] : cache_entries()) {
    if (n != name) continue;
    std::lock_guard<std::mutex> lock(mu());
    try {
      return &load_entry(d, trim(read_file(d / "key")), trim(read_file(d / "source"))).desc;
    } catch (const PluginError&) {
      return nullptr;
    }
  }
  return nullptr;
}

std::vector<std::string> cached_plugin_names() {
  std::vector<std::string> v;
  for (const auto& [n, d] : cache_entries())
    if (std::find(v.begin(), v.end(), n) == v.end()) v.push_back(n);
  return v;
}

}  // namespace ns
