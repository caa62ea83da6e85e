// Compile-time checks of the model checklist (include/neurosweep/model_concept.hpp), run by ctest
// as compiler invocations (CMakeLists.txt, "model_concept.*"): each NS_CASE_* below must fail to
// compile with the checklist's message naming what is wrong; the case without a macro (a complete
// minimal model) must compile, so the expected messages cannot come from anything else.
#include "neurosweep/model_concept.hpp"

namespace {

struct Toy {
  static constexpr const char* kName = "toy";
  static constexpr const char* kDescription = "a leaky integrator, for the checklist test";
#if defined(NS_CASE_UNKNOWN_KIND)
  static constexpr ns::ModelKind kKind = static_cast<ns::ModelKind>(42);
#elif defined(NS_CASE_RESERVED_KIND)
  static constexpr ns::ModelKind kKind = ns::ModelKind::kNetwork;
#elif defined(NS_CASE_INT_KIND)
  static constexpr int kKind = 1;
#elif !defined(NS_CASE_MISSING_KIND)
  static constexpr ns::ModelKind kKind = ns::ModelKind::kPointNeuron;
#endif
  enum Param { tau, V_m, kNumParams };
  static constexpr ns::ParamInfo kParams[kNumParams] = {
#if defined(NS_CASE_DEFAULT_OUT_OF_RANGE)
      {"tau", "ms", -1.0, "time constant", ns::gt(0)},
#else
      {"tau", "ms", 10.0, "time constant", ns::gt(0)},
#endif
      {"V_m", "mV", -70.0, "start potential"}};
  enum StateIx { V, kNumState };
  static constexpr ns::StateInfo kState[kNumState] = {{"V_m", "mV", -70.0, "V_m"}};
  static constexpr int kNumDerived = 2;
  static constexpr int kNumObs = 1;
  template <class T, class P, class D>
  static void derive(const P& p, D d, T dt) {
    d[0] = T(double(dt) / double(p[tau]));
    d[1] = T(p[V_m]);
  }
  template <class T, class D, class S>
  static void init(D d, S s) { s[V] = d[1]; }
#if !defined(NS_CASE_MISSING_STEP)
  template <class T, class S, class D, class Tab>
  static void step(S s, D d, const Tab&) { s[V] = s[V] - d[0] * s[V]; }
#endif
  template <class T, class S>
  static T observe(S s, int) { return s[V]; }
  template <class T>
  static void build_table(ns::HostTable<T>&, double) {}
};

static_assert(ns::check_model<Toy>(), "");

}  // namespace

int main() { return 0; }
