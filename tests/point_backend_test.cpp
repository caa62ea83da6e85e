// The NEST point models through the real backends (CPU SIMD tiles and the single-instance
// reference path = the code the CUDA kernel runs per thread):
//  * spike times recorded by the engine (reset-spike detection, engine.hpp reset_spikes) equal
//    NEST's stamps t_{k+1}, counted from the start of the analysis window;
//  * CPU tile == reference bit-for-bit for every point model, float and double, with Poisson input;
//  * results independent of the thread count and of the chunking (two chunks with first_index
//    offsets == one chunk), which holds because Poisson input is keyed by the global instance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "classify/classify_point.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "test_util.hpp"

namespace {

std::vector<double> defaults_of(const std::string& model) {
  const ns::ModelDesc* m = ns::find_model(model);
  EXPECT_NE(m, nullptr) << model;
  return m->defaults();
}

void set(std::vector<double>& p, const std::string& model, const std::string& name, double v) {
  const int k = ns::find_model(model)->param_index(name);
  ASSERT_GE(k, 0) << model << "." << name;
  p[static_cast<size_t>(k)] = v;
}

ns::RunSettings point_settings(const std::string& model, ns::Precision prec, double dt,
                               double transient_ms, double analysis_ms, int max_spikes = 500) {
  ns::RunSettings s;
  s.model = model;
  s.precision = prec;
  s.gating = ns::Gating::Direct;
  s.sim.dt = dt;
  s.sim.n_transient = std::llround(transient_ms / dt);
  s.sim.n_analysis = std::llround(analysis_ms / dt);
  s.sim.max_spikes = max_spikes;
  s.sim.seed = 20240611;
  s.want_final_state = true;
  return s;
}

ns::ChunkOutput run_one(const ns::RunSettings& s, const std::vector<double>& p, bool reference,
                        const std::vector<double>* init = nullptr) {
  ns::ChunkInput in;
  in.n = 1;
  in.params = p.data();
  in.init_state = init ? init->data() : nullptr;
  ns::ChunkOutput out;
  if (reference)
    ns::run_reference(s, in, out);
  else
    ns::make_cpu_backend()->run(s, in, out);
  return out;
}

template <class X>
void expect_bits_equal(const std::vector<X>& a, const std::vector<X>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(X))) << what << " differ";
}

void expect_same(const ns::ChunkOutput& a, const ns::ChunkOutput& b, const std::string& what) {
  expect_bits_equal(a.n_spikes, b.n_spikes, what + " n_spikes");
  expect_bits_equal(a.spike_times, b.spike_times, what + " spike_times");
  expect_bits_equal(a.final_state, b.final_state, what + " final_state");
  expect_bits_equal(a.v_min, b.v_min, what + " v_min");
  expect_bits_equal(a.v_max, b.v_max, what + " v_max");
  expect_bits_equal(a.v_mean, b.v_mean, what + " v_mean");
  expect_bits_equal(a.status, b.status, what + " status");
}

// A population of n instances of `model` that fire irregularly: graded constant drive plus
// excitatory and inhibitory Poisson input (every draw of the counter RNG is exercised).
struct Pop {
  std::string model;
  std::vector<std::vector<double>> rows;
};

Pop population(const std::string& model, size_t n) {
  Pop pop{model, {}};
  for (size_t i = 0; i < n; ++i) {
    auto p = defaults_of(model);
    const double f = double(i) / double(n > 1 ? n - 1 : 1);  // 0..1
    auto S = [&](const char* k, double v) { set(p, model, k, v); };
    if (model == "iaf_psc_exp" || model == "iaf_psc_alpha") {
      S("I_e", 250 + 300 * f);
      S("rate_ex", 6000);
      S("weight_ex", 15);
      S("rate_in", 1500);
      S("weight_in", 20);
      if (model == "iaf_psc_exp" && i % 3 == 0) S("delta", 1.0);  // escape noise (stream 3)
    } else if (model == "iaf_psc_delta") {
      S("I_e", 250 + 300 * f);
      S("rate_ex", 6000);
      S("weight_ex", 0.1);
      S("rate_in", 1500);
      S("weight_in", 0.1);
    } else if (model == "izhikevich") {
      S("I_e", 3 + 10 * f);
      S("rate_ex", 800);
      S("weight_ex", 1.5);
      S("rate_in", 200);
      S("weight_in", 1.5);
      if (i % 2) S("consistent_integration", 0);
    } else if (model == "aeif_cond_exp" || model == "aeif_cond_alpha") {
      S("I_e", 500 + 600 * f);
      S("rate_ex", 3000);
      S("weight_ex", 1.0);
      S("rate_in", 1000);
      S("weight_in", 1.0);
      if (i % 4 == 3) S("rk4_substeps", 2);
    } else if (model == "hh_psc_alpha") {
      S("I_e", 400 + 800 * f);
      S("rate_ex", 3000);
      S("weight_ex", 20);
      S("rate_in", 1000);
      S("weight_in", 20);
    } else if (model == "glif_psc") {
      S("I_e", 150 + 250 * f);
      S("rate_ex", 3000);
      S("weight_ex", 10);
      S("rate_in", 1000);
      S("weight_in", 10);
      const int lvl = 1 + static_cast<int>(i % 5);
      S("spike_dependent_threshold", lvl == 2 || lvl == 4 || lvl == 5);
      S("after_spike_currents", lvl >= 3);
      S("adapting_threshold", lvl == 5);
      S("tau_syn_2", 3.0 + 0.1 * static_cast<double>(i));
      if (i % 3 == 1) S("receptor_ex", 3);  // port 3 of 4 (tau_syn_2)
      if (i % 4 == 2) S("weight_ex", -10);  // inhibitory through the sign rule
    } else if (model == "iaf_cond_exp") {
      S("I_e", 200 + 400 * f);
      S("rate_ex", 3000);
      S("weight_ex", i % 3 == 2 ? -1.0 : 1.0);  // NEST's sign rule: negative = inhibitory
      S("rate_in", 1000);
      S("weight_in", i % 2 ? -1.0 : 1.0);
      S("V_m", -75 + 0.5 * static_cast<double>(i));  // start states
    } else if (model == "hh_cond_exp_traub") {
      S("I_e", 50 + 500 * f);
      S("rate_ex", 3000);
      S("weight_ex", i % 3 == 2 ? -1.0 : 1.0);
      S("rate_in", 1000);
      S("weight_in", 1.0);
      S("V_m", -70 + 0.5 * static_cast<double>(i));
    } else {
      ADD_FAILURE() << "no population for " << model;
    }
    pop.rows.push_back(p);
  }
  return pop;
}

std::vector<std::string> point_models() {
  std::vector<std::string> v;
  for (const auto& n : ns::model_names())
    if (ns::is_point_model(n)) v.push_back(n);
  return v;
}

// Column-major params of rows [a, b).
std::vector<double> slice_columns(const std::vector<std::vector<double>>& rows, size_t a, size_t b) {
  return nstest::columns(std::vector<std::vector<double>>(rows.begin() + a, rows.begin() + b));
}

}  // namespace

// ---- spike stamps through the engine -----------------------------------------------------------
// NEST testsuite (testsuite/pytests/neurons/test_iaf_psc_alpha.py, nest-simulator commit
// 8bd1ee83ae59): iaf_psc_alpha with defaults and I_e = 1000 pA first fires at 4.8 ms (h = 0.1);
// with I_e = 1450 pA at exactly 3.0 ms for h = 0.1, 0.2, 0.5, 1.0. Spike times are
// stored as float ms: tolerance 1e-5 ms (float(k h) is within 0.5 ulp = 2.4e-7 ms of k h here).
TEST(PointBackend, IafPscAlphaSpikeStampsEqualNest) {
  for (auto prec : {ns::Precision::Double, ns::Precision::Float})
    for (bool ref : {false, true}) {
      SCOPED_TRACE(ns::to_string(prec) + (ref ? " reference" : " cpu"));
      auto p = defaults_of("iaf_psc_alpha");
      set(p, "iaf_psc_alpha", "I_e", 1000);
      auto o = run_one(point_settings("iaf_psc_alpha", prec, 0.1, 0, 20), p, ref);
      ASSERT_GE(o.n_spikes[0], 1u);
      EXPECT_NEAR(o.spike_times[0], 4.8, 1e-5);
      // The analysis window starts after the transient: the same spike at 4.8 - 2.0 ms.
      auto o2 = run_one(point_settings("iaf_psc_alpha", prec, 0.1, 2.0, 20), p, ref);
      ASSERT_GE(o2.n_spikes[0], 1u);
      EXPECT_NEAR(o2.spike_times[0], 2.8, 1e-5);
      for (double h : {0.1, 0.2, 0.5, 1.0}) {
        auto q = defaults_of("iaf_psc_alpha");
        set(q, "iaf_psc_alpha", "I_e", 1450);
        auto o3 = run_one(point_settings("iaf_psc_alpha", prec, h, 0, 8), q, ref);
        ASSERT_GE(o3.n_spikes[0], 1u) << "h = " << h;
        EXPECT_NEAR(o3.spike_times[0], 3.0, 1e-5) << "h = " << h;
      }
    }
}

// iaf_psc_exp under constant current through the backend: the closed-form step count of the
// discretised LIF (tests/point_models_test.cpp derives it): first spike at k* h, then ISI
// (k* + n_ref) h, with k* = ceil(-tau_m ln(1 - theta C/(tau_m I))/h). Exact in double (spike
// time tolerance 1e-4 ms for float storage of times up to 1000 ms: 0.5 ulp = 3e-5 ms). The
// currents are chosen with the continuous crossing >= 1e-3 steps from a grid point so float
// rounding of V cannot move the crossing by a step (float run checked too).
TEST(PointBackend, IafPscExpSpikeTrainsMatchClosedForm) {
  const double h = 0.1, tau = 10, C = 250, theta = 15, t_ref = 2;
  std::vector<std::vector<double>> rows;
  std::vector<double> kstar;
  for (double I = 400; I <= 3000 && rows.size() < 13; I += 211) {
    const double kc = -tau * std::log(1.0 - theta * C / (tau * I)) / h;
    if (std::fabs(kc - std::round(kc)) < 1e-3) continue;
    auto p = defaults_of("iaf_psc_exp");
    set(p, "iaf_psc_exp", "I_e", I);
    rows.push_back(p);
    kstar.push_back(std::ceil(kc));
  }
  const auto cols = nstest::columns(rows);
  for (auto prec : {ns::Precision::Double, ns::Precision::Float}) {
    SCOPED_TRACE(ns::to_string(prec));
    ns::ChunkInput in;
    in.n = rows.size();
    in.params = cols.data();
    ns::ChunkOutput o;
    ns::make_cpu_backend()->run(point_settings("iaf_psc_exp", prec, h, 0, 1000, 2000), in, o);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto t = nstest::spikes_of(o, i);
      ASSERT_GE(t.size(), 3u) << i;
      ASSERT_EQ(o.n_spikes[i], t.size());
      EXPECT_NEAR(t[0], kstar[i] * h, 1e-4) << i;
      const double isi = (kstar[i] + std::round(t_ref / h)) * h;
      for (size_t j = 1; j < t.size(); ++j) EXPECT_NEAR(t[j] - t[j - 1], isi, 2e-4) << i << " " << j;
      // Count: every spike up to 1000 ms.
      EXPECT_EQ(t.size(), size_t(std::floor((1000.0 - kstar[i] * h) / isi + 1e-9)) + 1) << i;
    }
  }
}

// AdEx through the backend from the LSODAR reference start state (V = -70, w = 5): the engine
// stamps each reset at the end of the step containing NEST's reference reset instant t*, so
// 0 <= stamp - t* < 2h (the bound of tests/point_aeif_test.cpp, NEST testsuite file
// testsuite/pytests/test_aeif_data_lsodar.dat, commit 25ced5ab69d9).
TEST(PointBackend, AeifSpikeStampsFollowLsodarReference) {
  const double h = 0.01;
  const double ref_spikes[][2] = {{0, 18.71533824476356}, {2, 42.49524029982080}, {6, 91.09566560000411}};
  for (const char* model : {"aeif_cond_exp", "aeif_cond_alpha"}) {
    auto p = defaults_of(model);
    auto S = [&](const char* k, double v) { set(p, model, k, v); };
    S("V_reset", -58);
    S("V_peak", 0);
    S("V_th", -50);
    S("I_e", 420);
    S("g_L", 11);
    S("tau_w", 300);
    S("E_L", -70);
    S("Delta_T", 2);
    S("a", 3);
    S("b", 0);
    S("C_m", 200);
    const ns::ModelDesc* m = ns::find_model(model);
    std::vector<double> init(m->state.size(), 0.0);
    init[0] = -70;
    init[1] = 5;
    init.back() = h;  // h_int
    for (auto prec : {ns::Precision::Double, ns::Precision::Float})
      for (bool ref : {false, true}) {
        SCOPED_TRACE(std::string(model) + " " + ns::to_string(prec) + (ref ? " reference" : " cpu"));
        auto o = run_one(point_settings(model, prec, h, 0, 100), p, ref, &init);
        ASSERT_EQ(o.status[0], ns::kOk);
        ASSERT_GE(o.n_spikes[0], 7u);
        for (const auto& sp : ref_spikes) {
          const double d = o.spike_times[size_t(sp[0])] - sp[1];
          EXPECT_GE(d, -1e-5) << "spike " << sp[0];
          EXPECT_LT(d, 2 * h + 1e-5) << "spike " << sp[0];
        }
      }
  }
}

// ---- CPU SIMD tile == single-instance reference, bit for bit -------------------------------------
// 21 instances (not a multiple of the tile widths 8/16) with Poisson input, float and double.
TEST(PointBackend, CpuTileEqualsReferenceBitForBit) {
  for (const auto& model : point_models()) {
    const Pop pop = population(model, 21);
    const auto cols = nstest::columns(pop.rows);
    for (auto prec : {ns::Precision::Float, ns::Precision::Double}) {
      const std::string what = model + "/" + ns::to_string(prec);
      SCOPED_TRACE(what);
      auto s = point_settings(model, prec, 0.1, 50, 300);
      ns::ChunkInput in;
      in.n = pop.rows.size();
      in.params = cols.data();
      in.first_index = 777;
      ns::ChunkOutput cpu, ref;
      ns::make_cpu_backend()->run(s, in, cpu);
      ns::run_reference(s, in, ref);
      expect_same(cpu, ref, what);
      size_t spiking = 0;
      for (size_t i = 0; i < in.n; ++i) {
        EXPECT_EQ(cpu.status[i], ns::kOk) << i;
        spiking += cpu.n_spikes[i] > 0;
      }
      EXPECT_GE(spiking, in.n / 2) << "the comparison must cover spike recording";
    }
  }
}

// The CPU tile runs its step with the Poisson draws its lanes need (StepContext::input_mode:
// none, the fixed-cost part only, or all): 48 instances = 3 float tiles (6 double tiles) of
// iaf_psc_exp and izhikevich: without Poisson input, with rates below 10 kHz (dt 0.1 ms: mean <= 1
// per step), and with some lanes at 25-60 kHz (the chunked remainder). Each equals the reference
// (which always makes every draw) bit for bit, and the high-rate lanes receive more input.
TEST(PointBackend, CpuTileInputModesEqualReference) {
  for (const std::string model : {"iaf_psc_exp", "izhikevich"}) {
    std::vector<std::vector<double>> rows;
    for (int i = 0; i < 48; ++i) {
      auto p = defaults_of(model);
      const bool lif = model == "iaf_psc_exp";
      set(p, model, "I_e", lif ? 300 + 10 * i : 3 + 0.2 * i);
      const int tile = i / 16;
      const double rate = tile == 0 ? 0.0 : tile == 1 ? 500.0 * (i % 16 + 1) : (i % 5 == 0 ? 25000.0 + 1000 * i : 4000.0);
      set(p, model, "rate_ex", rate);
      set(p, model, "weight_ex", lif ? 2.0 : 0.05);
      set(p, model, "rate_in", tile == 0 ? 0.0 : rate / 4);
      set(p, model, "weight_in", lif ? 2.0 : 0.05);
      rows.push_back(p);
    }
    const auto cols = nstest::columns(rows);
    for (auto prec : {ns::Precision::Float, ns::Precision::Double}) {
      const std::string what = model + "/" + ns::to_string(prec);
      SCOPED_TRACE(what);
      auto s = point_settings(model, prec, 0.1, 20, 200);
      ns::ChunkInput in;
      in.n = rows.size();
      in.params = cols.data();
      in.first_index = 5;
      ns::ChunkOutput cpu, ref;
      ns::make_cpu_backend()->run(s, in, cpu);
      ns::run_reference(s, in, ref);
      expect_same(cpu, ref, what);
      // iaf_psc_exp's state 1 is I_syn_ex: zero without input, larger at higher rates.
      if (model == "iaf_psc_exp") {
        EXPECT_EQ(cpu.final_state[1 * in.n + 0], 0.0);
        EXPECT_GT(cpu.final_state[1 * in.n + 40], cpu.final_state[1 * in.n + 41]);  // 65 vs 4 kHz
      }
    }
  }
}

// ---- thread count and chunking -------------------------------------------------------------------
// 1 vs 2 threads, and one chunk of 40 vs chunks [0, 13) and [13, 40) with first_index 0 and 13:
// identical bits (Poisson draws are keyed by (seed, global instance, step)). A different seed or a
// shifted first_index must change the spikes (the test can fail).
TEST(PointBackend, IndependentOfThreadsAndChunking) {
  for (const auto& model : point_models()) {
    SCOPED_TRACE(model);
    const Pop pop = population(model, 40);
    const auto cols = nstest::columns(pop.rows);
    auto s = point_settings(model, ns::Precision::Float, 0.1, 20, 200);
    ns::ChunkInput in;
    in.n = pop.rows.size();
    in.params = cols.data();
    ns::ChunkOutput one, two;
    s.threads = 1;
    ns::make_cpu_backend()->run(s, in, one);
    s.threads = 2;
    ns::make_cpu_backend()->run(s, in, two);
    expect_same(one, two, model + " threads");

    const size_t cut = 13;
    const auto ca = slice_columns(pop.rows, 0, cut), cb = slice_columns(pop.rows, cut, in.n);
    ns::ChunkInput ia, ib;
    ia.n = cut;
    ia.params = ca.data();
    ia.first_index = 0;
    ib.n = in.n - cut;
    ib.params = cb.data();
    ib.first_index = cut;
    ns::ChunkOutput oa, ob;
    ns::make_cpu_backend()->run(s, ia, oa);
    ns::make_cpu_backend()->run(s, ib, ob);
    const int M = s.sim.max_spikes;
    const size_t ns_ = one.final_state.size() / in.n;
    for (size_t i = 0; i < in.n; ++i) {
      const ns::ChunkOutput& c = i < cut ? oa : ob;
      const size_t j = i < cut ? i : i - cut;
      ASSERT_EQ(one.n_spikes[i], c.n_spikes[j]) << i;
      EXPECT_EQ(0, std::memcmp(&one.spike_times[i * M], &c.spike_times[j * M],
                               sizeof(float) * std::min<uint32_t>(one.n_spikes[i], M)))
          << "spike times of instance " << i;
      EXPECT_EQ(one.v_mean[i], c.v_mean[j]) << i;
      for (size_t k = 0; k < ns_; ++k)
        EXPECT_EQ(one.final_state[k * in.n + i], c.final_state[k * c.n + j]) << i << " state " << k;
    }

    // Sensitivity: seed and instance identity matter.
    ns::ChunkOutput other;
    auto s2 = s;
    s2.sim.seed += 1;
    ns::make_cpu_backend()->run(s2, in, other);
    size_t diff = 0;
    for (size_t i = 0; i < in.n; ++i) diff += other.n_spikes[i] != one.n_spikes[i] || other.v_mean[i] != one.v_mean[i];
    EXPECT_GT(diff, in.n / 2) << "seed does not change the Poisson input";
    ib.first_index = cut + 1;
    ns::make_cpu_backend()->run(s, ib, ob);
    diff = 0;
    for (size_t j = 0; j < ib.n; ++j) diff += one.v_mean[cut + j] != ob.v_mean[j];
    EXPECT_GT(diff, ib.n / 2) << "first_index does not key the Poisson input";
  }
}
