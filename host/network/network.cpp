// Network descriptions: references, realised parameters, their checks and the sweep view.
#include "network/network.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "neurosweep/point/inputs.hpp"
#include "spec/validate.hpp"

namespace ns {

// ---- expressions ------------------------------------------------------------------------------
// Recursive descent over   expr := term (('+'|'-') term)*,  term := unary (('*'|'/') unary)*,
// unary := '-' unary | '+' unary | atom,  atom := number | name | '(' expr ')'.
// Twenty lines of grammar; a general expression library (muparser, exprtk) would add a dependency
// for four operators.
namespace {
struct ExprParser {
  const std::string& s;
  const std::vector<std::string>& names;
  size_t i = 0;
  NetExpr out;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("in \"" + s + "\" at character " + std::to_string(i + 1) + ": " + what);
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  void expr() {
    term();
    for (ws(); i < s.size() && (s[i] == '+' || s[i] == '-'); ws()) {
      const char op = s[i++];
      term();
      out.code.push_back({op == '+' ? NetExpr::kAdd : NetExpr::kSub});
    }
  }
  void term() {
    unary();
    for (ws(); i < s.size() && (s[i] == '*' || s[i] == '/'); ws()) {
      const char op = s[i++];
      unary();
      out.code.push_back({op == '*' ? NetExpr::kMul : NetExpr::kDiv});
    }
  }
  void unary() {
    ws();
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      const char op = s[i++];
      unary();
      if (op == '-') out.code.push_back({NetExpr::kNeg});
      return;
    }
    atom();
  }
  void atom() {
    ws();
    if (i >= s.size()) fail("expected a number, a parameter name or '('");
    const char ch = s[i];
    if (ch == '(') {
      ++i;
      expr();
      ws();
      if (i >= s.size() || s[i] != ')') fail("expected ')'");
      ++i;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(ch)) || ch == '.') {
      const char* b = s.c_str() + i;
      char* e = nullptr;
      const double x = std::strtod(b, &e);
      if (e == b || !std::isfinite(x)) fail("bad number");
      i += static_cast<size_t>(e - b);
      out.code.push_back({NetExpr::kNum, x});
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(ch)) || ch == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      const std::string nm = s.substr(i, j - i);
      int k = -1;
      for (size_t q = 0; q < names.size(); ++q)
        if (names[q] == nm) k = static_cast<int>(q);
      if (k < 0) {
        std::string all;
        for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
        fail("\"" + nm + "\" is not a network parameter (declared in \"parameters\": " +
             (all.empty() ? std::string("none") : all) + ")");
      }
      i = j;
      out.code.push_back({NetExpr::kVar, 0, k});
      return;
    }
    fail(std::string("unexpected '") + ch + "'");
  }
};
}  // namespace

NetExpr parse_net_expr(const std::string& text, const std::vector<std::string>& names) {
  ExprParser p{text, names};
  p.out.text = text;
  p.expr();
  p.ws();
  if (p.i != text.size()) p.fail(std::string("unexpected '") + text[p.i] + "'");
  return std::move(p.out);
}

double NetExpr::eval(const double* v) const {
  double st[64];
  int sp = 0;
  for (const Ins& c : code) {
    switch (c.op) {
      case kNum: st[sp++] = c.num; break;
      case kVar: st[sp++] = v[c.var]; break;
      case kNeg: st[sp - 1] = -st[sp - 1]; break;
      default: {
        const double b = st[--sp], a = st[sp - 1];
        st[sp - 1] = c.op == kAdd ? a + b : c.op == kSub ? a - b : c.op == kMul ? a * b : a / b;
      }
    }
    if (sp >= 63) break;  // parse_net_expr keeps expressions far shorter (64 operands)
  }
  return st[0];
}

// ---- distributions ---------------------------------------------------------------------------

double NetDist::lo(const double* q) const {
  if (kind == kUniform) return q[min];
  return min >= 0 ? q[min] : -std::numeric_limits<double>::infinity();
}
double NetDist::hi(const double* q) const {
  if (kind == kUniform) return q[max];
  return max >= 0 ? q[max] : std::numeric_limits<double>::infinity();
}

double NetDist::draw(const double* q, uint64_t key, uint64_t index, uint64_t stream) const {
  point::CounterRng r(key, index, 0, stream);
  const double a = lo(q), b = hi(q);
  if (kind == kUniform) return a + (b - a) * r.uniform();  // nest.random.uniform(min, max): [min, max)
  const double m = q[mean], s = q[std];
  // nest.math.redraw(nest.random.normal(mean, std), min, max): draw again until inside [min, max]
  // (NEST nestkernel/parameter.cpp, RedrawParameter::value). Box-Muller, one value per pair of
  // uniforms (Devroye 1986, sec. V.4.3).
  for (int tries = 0; tries < 1000000; ++tries) {
    const double u1 = 1.0 - r.uniform(), u2 = r.uniform();  // u1 in (0, 1]
    const double x = m + s * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    if (x >= a && x <= b) return x;
  }
  throw std::runtime_error("redraw: 10^6 draws of normal(mean " + std::to_string(m) + ", std " + std::to_string(s) +
                           ") fell outside [" + std::to_string(a) + ", " + std::to_string(b) + "]");
}

// ---- realised parameters ----------------------------------------------------------------------

void NetworkDesc::realise(const double* p, double* q) const {
  const size_t n = model.params.size();
  for (size_t k = 0; k < n; ++k) q[k] = p[k];
  for (const auto& [k, e] : refs)
    if (!overridden[static_cast<size_t>(k)]) q[k] = e.eval(p);
  // Drives act through the population model's own input block (point/inputs.hpp): a Poisson drive
  // is its excitatory Poisson train (a negative weight acts on the inhibitory synapse, as NEST's
  // poisson_generator with a negative weight), a DC drive adds to I_e (NEST dc_generator, without
  // its onset delay).
  for (const auto& dr : drives) {
    const NetPopulation& pop = pops[static_cast<size_t>(dr.target)];
    if (dr.kind == NetDrive::kPoisson) {
      q[pop.rate_ex_param] = q[dr.rate_param];
      q[pop.weight_ex_param] = q[dr.weight_param];
    } else {
      q[pop.i_e_param] += q[dr.amplitude_param];
    }
  }
}

int64_t NetworkDesc::delay_steps(double delay_ms, double dt_ms) const {
  // NEST: Time::delay_ms_to_steps(ms) = ld_round(ms * STEPS_PER_MS) = floor(ms * STEPS_PER_MS + 0.5)
  // (nestkernel/nest_time.cpp), STEPS_PER_MS = 1 / MS_PER_STEP with MS_PER_STEP = tics per step /
  // 1000 tics per ms; delays below one step are refused (here: by the range delay >= dt).
  const double ms_per_step = std::floor(dt_ms * 1000.0 + 0.5) / 1000.0;
  return static_cast<int64_t>(std::floor(delay_ms * (1.0 / ms_per_step) + 0.5));
}

std::string NetworkDesc::check_realised(const double* q, double dt_ms) const {
  // References: their realised values against the ranges (swept or fixed values are checked by
  // the sweep validation already; checking them again is harmless).
  for (const auto& [k, e] : refs) {
    if (overridden[static_cast<size_t>(k)]) continue;
    if (std::string v = range_violation(model.params[static_cast<size_t>(k)], q[k]); !v.empty())
      return std::string(model.params[static_cast<size_t>(k)].name) + " = \"" + e.text + "\" = " +
             std::to_string(q[k]) + " breaks the rule " + v;
  }
  auto check_dist = [&](const std::string& owner, const NetDist& d) -> std::string {
    if (!d.active()) return "";
    if (d.kind == NetDist::kNormal && !(q[d.std] >= 0))
      return owner + ".std = " + std::to_string(q[d.std]) + " is negative";
    if (!(d.lo(q) <= d.hi(q)) || (d.kind == NetDist::kUniform && !(d.lo(q) < d.hi(q))))
      return owner + ".min = " + std::to_string(d.lo(q)) + " is not below " + owner + ".max = " + std::to_string(d.hi(q));
    return "";
  };
  for (const auto& pop : pops)
    for (const auto& [k, d] : pop.initial)
      if (std::string r = check_dist(pop.name + ".initial." + pop.desc->state[static_cast<size_t>(k)].name, d); !r.empty())
        return r;
  for (const auto& pr : projs) {
    if (std::string r = check_dist(pr.name + ".weight", pr.weight_dist); !r.empty()) return r;
    if (std::string r = check_dist(pr.name + ".delay", pr.delay_dist); !r.empty()) return r;
    // A drawn delay must round to at least one step (NEST checks the delay in steps); PD14's
    // example bounds its delays below by 0.5 dt (network.py, nest.math.redraw(min=h - 0.5 h)).
    if (pr.delay_dist.active() && !(pr.delay_dist.lo(q) >= 0 && delay_steps(pr.delay_dist.lo(q), dt_ms) >= 1))
      return pr.name + ".delay.min = " + std::to_string(pr.delay_dist.lo(q)) + " ms rounds to less than one step of dt = " +
             std::to_string(dt_ms) + " ms (a drawn delay must be at least one step, as in NEST; set \"min\" >= dt/2)";
    if (pr.delay_param >= 0) {
      const double d = q[pr.delay_param];
      if (!(d >= dt_ms - 1e-12 * dt_ms) || delay_steps(d, dt_ms) < 1)
        return pr.name + ".delay = " + std::to_string(d) + " ms is below the time step dt = " + std::to_string(dt_ms) +
               " ms (NEST: delays of at least one step)";
    }
    const double ns = q[pops[static_cast<size_t>(pr.src)].size_param];
    const double nt = q[pops[static_cast<size_t>(pr.tgt)].size_param];
    if (pr.edges) {
      const ExplicitEdges& E = *pr.edges;
      if (E.n && double(E.max_src) >= ns)
        return pr.name + ": " + E.where() + ", dataset source: value " + std::to_string(E.max_src) + " at index " +
               std::to_string(E.argmax_src) + " is out of range for population " + pops[static_cast<size_t>(pr.src)].name +
               " of size " + std::to_string(static_cast<long long>(ns)) + " (0-based indices)";
      if (E.n && double(E.max_tgt) >= nt)
        return pr.name + ": " + E.where() + ", dataset target: value " + std::to_string(E.max_tgt) + " at index " +
               std::to_string(E.argmax_tgt) + " is out of range for population " + pops[static_cast<size_t>(pr.tgt)].name +
               " of size " + std::to_string(static_cast<long long>(nt)) + " (0-based indices)";
    }
    const bool self = pr.src == pr.tgt;
    if (pr.rule == ConnRule::kOneToOne && ns != nt)
      return pr.name + ": one_to_one needs equal sizes, got " + std::to_string(ns) + " and " + std::to_string(nt);
    if (pr.rule == ConnRule::kFixedIndegree || pr.rule == ConnRule::kFixedOutdegree) {
      const double k = q[pr.rule_param];
      const double pool = (pr.rule == ConnRule::kFixedIndegree ? ns : nt) - (self && !pr.autapses ? 1 : 0);
      if (!pr.multapses && k > pool)
        return pr.name + "." + rule_param_name(pr.rule) + " = " + std::to_string(static_cast<long long>(k)) +
               " exceeds the " + std::to_string(static_cast<long long>(pool)) +
               " distinct partners available without multapses (NEST: the same rule)";
      if (k > 0 && pool < 1)
        return pr.name + "." + rule_param_name(pr.rule) + " > 0 but no partner is available (autapses off, size 1)";
    }
    if (pr.rule == ConnRule::kFixedTotalNumber && q[pr.rule_param] > 0 && self && !pr.autapses && ns < 2)
      return pr.name + ".N > 0 but no partner is available (autapses off, size 1)";
  }
  if (std::string r = check_spike_sources(q); !r.empty()) return r;
  // Each population's model rules (e.g. V_reset < V_th) on its realised parameters.
  for (const auto& pop : pops) {
    if (!pop.desc->check) continue;
    const std::string r = pop.desc->check(*pop.desc, q + pop.param0);
    if (!r.empty()) return "population " + pop.name + ": rule " + r + " is broken";
  }
  return "";
}

std::string NetworkDesc::check_spike_sources(const double* q) const {
  for (const auto& pop : pops) {
    if (!pop.source || pop.source->step.empty()) continue;
    const double n = q[pop.size_param];
    if (double(pop.source->max_index) >= n)
      return pop.name + ".size = " + std::to_string(static_cast<long long>(n)) + " but " + pop.source->file + ":" +
             (pop.source->group == "/" ? std::string() : pop.source->group) + "/index holds neuron " +
             std::to_string(pop.source->max_index) +
             " (indices are 0-based within the population)";
  }
  for (const auto& pr : projs)
    if (pops[static_cast<size_t>(pr.tgt)].source)
      return pr.name + ": target " + pops[static_cast<size_t>(pr.tgt)].name + " is a spike source (it receives no input)";
  return "";
}

std::vector<std::string> NetworkDesc::sample_names() const {
  std::vector<std::string> v;
  for (const auto& p : pops)
    for (int k = 0; k < p.sample; ++k) v.push_back(p.name + ":" + std::to_string(k));
  return v;
}

int NetworkDesc::add_param(const std::string& name, const char* unit, double def, const char* doc, Range range) {
  pending_.push_back({name, unit, def, doc, range});
  return static_cast<int>(pending_.size()) - 1;
}

void NetworkDesc::build(double dt_ms) {
  dt_ms_ = dt_ms;
  model = ModelDesc{};
  model.name = "network";
  model.description = "spiking network of point neurons (docs/NETWORKS.md)";
  model.kind = ModelKind::kNetwork;
  model.n_obs = total_sample();
  for (const auto& pp : pending_) {
    names_.push_back(pp.name);
    docs_.push_back(pp.doc);
    model.params.push_back(ParamInfo{names_.back().c_str(), pp.unit, pp.def, docs_.back().c_str(), pp.range, ""});
  }
  if (overridden.size() != model.params.size()) overridden.assign(model.params.size(), false);
  // The view's cross-parameter rule: the realised network (references evaluated) is admissible.
  // validate_sweep runs it on every instance before any work (spec/validate.hpp).
  model.check = [this](const ModelDesc&, const double* p) -> std::string {
    std::vector<double> q(model.params.size());
    realise(p, q.data());
    return check_realised(q.data(), dt_ms_);
  };
}

}  // namespace ns
