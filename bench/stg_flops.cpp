// Floating-point operations per STG step, counted, not guessed: the unchanged model code
// (include/neurosweep/stg.hpp, StgModel::step, and the engine's run_instance) runs with an
// operation-counting number type in place of float.
//   stg_flops [--json] [--steps 1000]
//
// How: `Cnt` wraps a float and counts every +, -, *, /, unary minus, comparison and conversion to
// int it takes part in. stg.hpp calls fexp/flog unqualified, so for a Cnt argument argument-
// dependent lookup picks the overloads below, which count one library call each and evaluate
// ns::fexp/ns::flog on the value. No model or hd.hpp code is copied or changed.
//
// What counts: an operation whose operands are all literals (T(1) / T(6), the reciprocal slopes
// T(1) / b of sigm, ...) is folded by the compiler, so it is not counted; a value is a "literal"
// when it was constructed from a number in the source. State, derived constants and table entries
// are runtime values (they are loaded from memory every step in the SIMD tiles of
// host/backends/cpu_backend.cpp). The step is branch-free (ternaries select between values already
// computed), so every step costs the same; the tool checks this over --steps steps.
//
// FLOPs: add, sub, mul and div count 1 each (a division is 1 FLOP here, though it costs ~10x a
// multiply in throughput); comparisons (and their selects), negations and conversions are reported
// apart and not counted as FLOPs. Library calls: exp and log are Cephes-style polynomials in
// hd.hpp (host) whose per-call cost is tabulated below from the source (see kLibCost); they are
// reported separately and added to give the FLOP estimate. On the GPU the same calls map to
// CUDA's expf/logf (SFU), see bench/README.md.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "neurosweep/engine.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/stg.hpp"
#include "neurosweep/version.hpp"

namespace opc {

struct Counts {
  uint64_t add = 0, sub = 0, mul = 0, div = 0, fma = 0, neg = 0, cmp = 0, cvt = 0, exp = 0, log = 0;
  uint64_t flops() const { return add + sub + mul + div + 2 * fma; }
  Counts operator-(const Counts& o) const {
    Counts r;
    r.add = add - o.add; r.sub = sub - o.sub; r.mul = mul - o.mul; r.div = div - o.div; r.fma = fma - o.fma;
    r.neg = neg - o.neg; r.cmp = cmp - o.cmp; r.cvt = cvt - o.cvt; r.exp = exp - o.exp; r.log = log - o.log;
    return r;
  }
  bool operator==(const Counts& o) const { return std::memcmp(this, &o, sizeof o) == 0; }
};
inline Counts g;

// A float that counts. `var` is false for values built from source literals (folded at compile time).
struct Cnt {
  float v = 0;
  bool var = false;
  Cnt() = default;
  // T(x) from a temporary (a source literal such as T(25.5) or T(1), or an expression) is a
  // literal; T(x) from a named double (a parameter p[k], c.dt, an initial state) is a runtime
  // value. This is what lets ns::run_instance run unchanged with Cnt (see count_engine_step).
  Cnt(double&& x) : v(static_cast<float>(x)) {}  // NOLINT(google-explicit-constructor)
  Cnt(const double& x) : v(static_cast<float>(x)), var(true) {}  // NOLINT
  static Cnt runtime(float x) {
    Cnt c(static_cast<double>(x));
    c.var = true;
    return c;
  }
  explicit operator int() const {
    if (var) ++g.cvt;
    return static_cast<int>(v);
  }
  explicit operator float() const { return v; }
  explicit operator double() const { return v; }
  Cnt& operator+=(Cnt o);
  Cnt& operator-=(Cnt o);
  Cnt& operator*=(Cnt o);
  Cnt& operator/=(Cnt o);
};
inline Cnt make(float v, bool var) {
  Cnt c(static_cast<double>(v));
  c.var = var;
  return c;
}
#define OPC_BIN(op, field)                                \
  inline Cnt operator op(Cnt a, Cnt b) {                  \
    const bool var = a.var || b.var;                      \
    if (var) ++g.field;                                   \
    return make(a.v op b.v, var);                         \
  }                                                       \
  inline Cnt& Cnt::operator op##=(Cnt o) { return *this = *this op o; }
OPC_BIN(+, add)
OPC_BIN(-, sub)
OPC_BIN(*, mul)
OPC_BIN(/, div)
#undef OPC_BIN
inline Cnt operator-(Cnt a) {
  if (a.var) ++g.neg;
  return make(-a.v, a.var);
}
#define OPC_CMP(op)                         \
  inline bool operator op(Cnt a, Cnt b) {   \
    if (a.var || b.var) ++g.cmp;            \
    return a.v op b.v;                      \
  }
OPC_CMP(<)
OPC_CMP(>)
OPC_CMP(<=)
OPC_CMP(>=)
OPC_CMP(==)
OPC_CMP(!=)
#undef OPC_CMP
// Found by argument-dependent lookup from the unqualified calls in stg.hpp / hd.hpp.
inline Cnt fexp(Cnt x) {
  if (x.var) ++g.exp;
  return make(ns::fexp(x.v), x.var);
}
inline Cnt flog(Cnt x) {
  if (x.var) ++g.log;
  return make(ns::flog(x.v), x.var);
}
inline Cnt fmadd(Cnt a, Cnt b, Cnt c) {  // ns::fmadd: one fused multiply-add, 2 FLOPs
  const bool var = a.var || b.var || c.var;
  if (var) ++g.fma;
  return make(ns::fmadd(a.v, b.v, c.v), var);
}

}  // namespace opc

namespace {

using opc::Cnt;
using opc::Counts;
using M = ns::StgModel;

// Per-call cost of the host exp/log of include/neurosweep/hd.hpp, counted by reading the source
// (the functions take float/double, not a template type, so they cannot be run with Cnt; update
// these rows if hd.hpp's polynomials change). FLOPs = add + sub + mul + div; "other": comparisons
// with their selects, floor, float<->int conversions, integer and bit operations.
//   fexp(float)  Cephes expf: 2 clamps (cmp), x*log2e+0.5 (1 mul 1 add), floor, two-step
//                reduction (2 mul 2 sub), r*r (1 mul), degree-6 Horner in 5 fmadd, y*z+r (1
//                fmadd) + 1 (1 add), 2^n by exponent bits, y*scale (1 mul): 5 mul + 4 add + 6 fma
//                = 21 FLOPs (15 instructions where fmadd is fused).
//   flog(float)  Cephes logf: exponent/mantissa bits, 1 cmp, u from both branches (3 add),
//                u*u (1 mul), degree-8 Horner in 8 fmadd, y*u*z (2 mul), three corrections
//                with fe (3 mul 4 add), NaN test: 6 mul + 7 add + 8 fma = 29 FLOPs.
//   fexp(double) Cephes exp (Pade): 2 cmp, 1 mul 1 add, floor, 2 mul 2 sub, 1 mul, P (3 mul
//                2 add), Q (3 mul 3 add), p/(q-p) (1 sub 1 div), 1+2e (1 mul 1 add), 1 mul:
//                12 mul + 10 add + 1 div = 23.
//   flog(double) Cephes log: 1 cmp, u (3 add), u*u, P (5 mul 5 add), Q (4 mul 5 add),
//                u*(z*p/q) (2 mul 1 div), corrections (3 mul 4 add): 15 mul + 17 add + 1 div = 33.
struct LibCost {
  int flops, other;
  const char* what;
};
constexpr LibCost kExpF{21, 6, "Cephes expf, degree-6 polynomial"};
constexpr LibCost kLogF{29, 10, "Cephes logf, degree-8 polynomial"};
constexpr LibCost kExpD{23, 6, "Cephes exp, Pade (3,3) with 1 division"};
constexpr LibCost kLogD{33, 10, "Cephes log, rational (5,5) with 1 division"};

struct Instance {
  std::vector<Cnt> s, d;
};

// P04 AB/PD 2 (a burster): derived constants and cold start computed in float by the model code,
// then marked as runtime values.
Instance make_instance(double dt) {
  const ns::ModelDesc* md = ns::find_model("stg");
  std::vector<double> p = md->defaults();
  for (int q = 0; q < 8; ++q) p[static_cast<size_t>(md->param_index(ns::p04::ABPD2[q].param))] = ns::p04::ABPD2[q].value;
  float d[M::kNumDerived], s[M::kNumState];
  M::derive<float>(ns::Strided<const double>{p.data(), 1}, d, static_cast<float>(dt));
  M::init<float>(d, s);
  Instance in;
  for (float x : s) in.s.push_back(Cnt::runtime(x));
  for (float x : d) in.d.push_back(Cnt::runtime(x));
  return in;
}

struct Result {
  Counts per_step;
  bool constant = true;
  uint64_t steps = 0;
};

// Counts of StgModel::step per step, over `steps` steps after 2000 warm-up steps.
template <class Tab>
Result count_model_step(const Tab& tab, double dt, int steps) {
  Instance in = make_instance(dt);
  for (int k = 0; k < 2000; ++k) M::step<Cnt>(in.s.data(), in.d.data(), tab);
  Result r;
  Counts first;
  for (int k = 0; k < steps; ++k) {
    const Counts before = opc::g;
    M::step<Cnt>(in.s.data(), in.d.data(), tab);
    const Counts one = opc::g - before;
    if (k == 0) first = one;
    else if (!(one == first)) r.constant = false;
  }
  r.per_step = first;
  r.steps = static_cast<uint64_t>(steps);
  return r;
}

// Counts per analysis step of the engine's whole per-instance loop (ns::run_instance: the model
// step plus the spike detector, V min/max/mean), as the difference of two runs of different length
// (the one-off derive/init/summary cost cancels). Here the derived constants come from
// derive<Cnt>: those copied from parameters are runtime values, those computed in derive (dt/C,
// the [Ca] decay factor, the Nernst factor, ...) are literals for the counter, which matches
// ops between two of them, if any, being hoisted out of the time loop.
template <class Tab>
Counts count_engine_step(const Tab& tab, double dt, int steps) {
  const ns::ModelDesc* md = ns::find_model("stg");
  std::vector<double> p = md->defaults();
  for (int q = 0; q < 8; ++q) p[static_cast<size_t>(md->param_index(ns::p04::ABPD2[q].param))] = ns::p04::ABPD2[q].value;
  auto run = [&](int n) {
    ns::SimConfig c;
    c.dt = dt;
    c.n_transient = 0;
    c.n_analysis = n;
    c.max_spikes = 64;
    std::vector<float> times(64), vmin(1), vmax(1), vmean(1);
    std::vector<uint32_t> ns_(1);
    std::vector<uint8_t> st(1);
    ns::OutputView o;
    o.n = 1;
    o.spike_times = times.data();
    o.n_spikes = ns_.data();
    o.v_min = vmin.data();
    o.v_max = vmax.data();
    o.v_mean = vmean.data();
    o.status = st.data();
    const Counts before = opc::g;
    ns::run_instance<M, Cnt>(c, p.data(), nullptr, 1, 0, 0, tab, o);
    return opc::g - before;
  };
  const Counts a = run(steps), b = run(2 * steps);
  Counts diff = b - a;
  Counts r;
  const uint64_t n = static_cast<uint64_t>(steps);
  r.add = diff.add / n; r.sub = diff.sub / n; r.mul = diff.mul / n; r.div = diff.div / n; r.fma = diff.fma / n;
  r.neg = diff.neg / n; r.cmp = diff.cmp / n; r.cvt = diff.cvt / n; r.exp = diff.exp / n; r.log = diff.log / n;
  return r;
}

double flops_with_lib(const Counts& c, const LibCost& e, const LibCost& l) {
  return double(c.flops()) + double(c.exp) * e.flops + double(c.log) * l.flops;
}

void print(const char* gating, const Result& r, const Counts& eng, bool json) {
  const Counts& c = r.per_step;
  const double ff = flops_with_lib(c, kExpF, kLogF), fd = flops_with_lib(c, kExpD, kLogD);
  const double ef = flops_with_lib(eng, kExpF, kLogF);
  if (json) {
    std::printf(
        "{\"bench\":\"stg_flops\",\"model\":\"stg\",\"gating\":\"%s\",\"add\":%" PRIu64 ",\"sub\":%" PRIu64
        ",\"mul\":%" PRIu64 ",\"div\":%" PRIu64 ",\"fma\":%" PRIu64 ",\"neg\":%" PRIu64 ",\"cmp\":%" PRIu64 ",\"cvt_to_int\":%" PRIu64
        ",\"exp\":%" PRIu64 ",\"log\":%" PRIu64 ",\"arith_flops_excl_exp_log\":%" PRIu64
        ",\"flops_per_exp_float\":%d,\"flops_per_log_float\":%d,\"flops_per_exp_double\":%d,\"flops_per_log_double\":%d"
        ",\"flops_per_step_float\":%.0f,\"flops_per_step_double\":%.0f,\"engine_flops_per_step_float\":%.0f"
        ",\"engine_cmp_per_step\":%" PRIu64 ",\"constant_per_step\":%s,\"steps_checked\":%" PRIu64
        ",\"git_revision\":\"%s\"}\n",
        gating, c.add, c.sub, c.mul, c.div, c.fma, c.neg, c.cmp, c.cvt, c.exp, c.log, c.flops(), kExpF.flops, kLogF.flops,
        kExpD.flops, kLogD.flops, ff, fd, ef, eng.cmp, r.constant ? "true" : "false", r.steps, ns::kGitRevision);
  } else {
    std::printf("%-7s %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64
                " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %9" PRIu64 " %10.0f %10.0f %10.0f  %s\n",
                gating, c.add, c.sub, c.mul, c.div, c.fma, c.neg, c.cmp, c.cvt, c.exp, c.log, c.flops(), ff, fd, ef,
                r.constant ? "same every step" : "VARIES between steps");
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int steps = 1000;
  const double dt = 0.05;
  for (int a = 1; a < argc; ++a) {
    const std::string k = argv[a];
    if (k == "--json") json = true;
    else if (k == "--steps" && a + 1 < argc) steps = std::stoi(argv[++a]);
    else if (k == "-h" || k == "--help") {
      std::printf("stg_flops [--json] [--steps 1000]\n");
      return 0;
    } else {
      std::fprintf(stderr, "stg_flops: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (steps < 1) {
    std::fprintf(stderr, "stg_flops: --steps %d: must be >= 1\n", steps);
    return 2;
  }
  // The table: built by the model in float, entries then runtime values; v_min, 1/dv and the row
  // count are loop invariants (literals for the counter).
  ns::HostTable<float> ht;
  M::build_table(ht, dt);
  std::vector<Cnt> tdata;
  tdata.reserve(ht.data.size());
  for (float x : ht.data) tdata.push_back(Cnt::runtime(x));
  ns::TableView<Cnt> tab;
  tab.data = tdata.data();
  tab.v_min = Cnt(double(ht.v_min));
  tab.inv_dv = Cnt(1.0 / ht.dv);
  tab.n = ht.n;
  tab.width = ht.width;

  const Result rd = count_model_step(ns::Direct{}, dt, steps);
  const Result rt = count_model_step(tab, dt, steps);
  const Counts ed = count_engine_step(ns::Direct{}, dt, steps);
  const Counts et = count_engine_step(tab, dt, steps);
  if (!json) {
    std::printf("# Operations per STG step (StgModel::step, P04 AB/PD 2, dt %.2f ms), counted with an operation-\n"
                "# counting float; literal-only arithmetic excluded (folded). git %s\n",
                dt, ns::kGitRevision);
    std::printf("%-7s %5s %5s %5s %5s %5s %5s %5s %5s %5s %5s %9s %10s %10s %10s\n", "gating", "add", "sub", "mul", "div",
                "fma", "neg", "cmp", "cvt", "exp", "log", "arith", "FLOP(f32)", "FLOP(f64)", "engine(f32)");
  }
  print("direct", rd, ed, json);
  print("table", rt, et, json);
  if (!json)
    std::printf("# arith = add+sub+mul+div+2 fma excluding exp/log; FLOP = arith + exp x %d + log x %d (float) or exp x %d +\n"
                "# log x %d (double), the per-call costs of hd.hpp's %s / %s / %s / %s. engine = the same per analysis\n"
                "# step of ns::run_instance (detector and V min/max/mean included; derived-only products hoisted).\n"
                "# cmp = comparisons (each with a select), not FLOPs; cvt = float->int conversions (table row index).\n",
                kExpF.flops, kLogF.flops, kExpD.flops, kLogD.flops, kExpF.what, kLogF.what, kExpD.what, kLogD.what);
  return (rd.constant && rt.constant) ? 0 : 1;
}
