// Lazy expansion of a sweep: the parameters of instance i as a pure function of (spec, seed, i).
#include "spec/spec_detail.hpp"

namespace ns {
using namespace spec_detail;

Sweep::Sweep(std::vector<double> base_params, std::vector<AxisInfo> axes, Combine combine,
             uint64_t seed)
    : base_(std::move(base_params)), axes_(std::move(axes)), combine_(combine), seed_(seed) {
  stride_.assign(axes_.size(), 1);
  keys_.resize(axes_.size());
  if (combine_ == Combine::kProduct) {
    uint64_t n = 1;
    for (size_t a = axes_.size(); a-- > 0;) {
      stride_[a] = n;
      if (axes_[a].size == 0 || n > kMaxInstances / axes_[a].size)
        throw std::invalid_argument("Sweep: size out of range");
      n *= axes_[a].size;
    }
    size_ = n;
  } else {
    if (axes_.empty()) throw std::invalid_argument("Sweep: sample needs axes");
    size_ = axes_[0].size;
    for (const auto& ax : axes_)
      if (ax.size != size_ || !is_sampled(ax.kind))
        throw std::invalid_argument("Sweep: sample axes must be random/sobol of equal count");
    std::fill(stride_.begin(), stride_.end(), 0);
  }
  // Random and Sobol keys use the axis position among the axes that set parameters: a start
  // axis (no parameters) does not move them, so the sweep without it draws the same values.
  key_pos_.assign(axes_.size(), 0);
  for (size_t a = 0, k = 0; a < axes_.size(); ++a) {
    key_pos_[a] = k;
    if (!axes_[a].start) ++k;
  }
  for (size_t a = 0; a < axes_.size(); ++a) {
    const AxisInfo& ax = axes_[a];
    if (!is_sampled(ax.kind) && ax.values.size() != ax.params.size() * ax.size)
      throw std::invalid_argument("Sweep: axis " + ax.name + " has the wrong number of values");
    if (is_sampled(ax.kind) && (ax.low.size() != ax.params.size() || ax.high.size() != ax.params.size() ||
                          ax.log_scale.size() != ax.params.size()))
      throw std::invalid_argument("Sweep: axis " + ax.name + " lacks ranges");
    if (ax.param_index.size() != ax.params.size())
      throw std::invalid_argument("Sweep: axis " + ax.name + " lacks parameter indices");
    for (int k : ax.param_index)
      if (k < 0 || static_cast<size_t>(k) >= base_.size())
        throw std::invalid_argument("Sweep: axis " + ax.name + ": parameter index out of range");
    for (size_t p = 0; p < ax.params.size(); ++p) {
      if (ax.kind == AxisKind::kRandom)
        keys_[a].push_back(fnv1a64(ax.params[p].data(), ax.params[p].size()));
      else if (ax.kind == AxisKind::kSobol)
        keys_[a].push_back(hash_words(seed_, kTagSobol | key_pos_[a], p, 0));
    }
  }
}

double Sweep::value(size_t a, size_t p, uint64_t j) const {
  const AxisInfo& ax = axes_[a];
  if (!is_sampled(ax.kind)) return ax.values[p * ax.size + j];
  const double u = ax.kind == AxisKind::kRandom
                       ? u01_from_hash(hash_words(seed_, kTagRandom | key_pos_[a], keys_[a][p], j))
                       : sobol::scrambled(static_cast<int>(p), j, ax.scramble, keys_[a][p]);
  const double lo = ax.low[p], hi = ax.high[p];
  double v;
  if (ax.log_scale[p]) {
    const double la = std::log(lo), lb = std::log(hi);
    v = std::exp(la + u * (lb - la));
  } else {
    v = lo + u * (hi - lo);
  }
  return std::min(std::max(v, lo), hi);
}

void Sweep::fill(uint64_t i0, size_t n, double* out) const {
  if (i0 > size_ || n > size_ - i0)
    throw std::out_of_range("Sweep::fill: instances [" + std::to_string(i0) + ", " +
                            std::to_string(i0 + n) + ") outside [0, " + std::to_string(size_) + ")");
  for (size_t k = 0; k < base_.size(); ++k) std::fill(out + k * n, out + (k + 1) * n, base_[k]);
  const bool product = combine_ == Combine::kProduct;
  for (size_t a = 0; a < axes_.size(); ++a) {
    const AxisInfo& ax = axes_[a];
    for (size_t j = 0; j < n; ++j) {
      const uint64_t i = i0 + j;
      const uint64_t d = product ? (i / stride_[a]) % ax.size : i;
      for (size_t p = 0; p < ax.params.size(); ++p)
        out[static_cast<size_t>(ax.param_index[p]) * n + j] = value(a, p, d);
    }
  }
}

std::vector<double> Sweep::params_of(uint64_t i) const {
  std::vector<double> v(base_.size());
  fill(i, 1, v.data());
  return v;
}

std::vector<int> Sweep::swept_params() const {
  std::set<int> s;
  for (const auto& ax : axes_) s.insert(ax.param_index.begin(), ax.param_index.end());
  return {s.begin(), s.end()};
}

std::vector<uint64_t> Sweep::decode(uint64_t i) const {
  if (i >= size_) throw std::out_of_range("Sweep::decode: index " + std::to_string(i) + " >= size");
  std::vector<uint64_t> d(axes_.size(), i);
  if (combine_ == Combine::kProduct)
    for (size_t a = 0; a < axes_.size(); ++a) d[a] = (i / stride_[a]) % axes_[a].size;
  return d;
}

uint64_t Sweep::encode(const std::vector<uint64_t>& digits) const {
  if (digits.size() != axes_.size()) throw std::invalid_argument("Sweep::encode: wrong digit count");
  if (combine_ == Combine::kSample) return digits.empty() ? 0 : digits[0];
  uint64_t i = 0;
  for (size_t a = 0; a < axes_.size(); ++a) {
    if (digits[a] >= axes_[a].size) throw std::out_of_range("Sweep::encode: digit out of range");
    i += digits[a] * stride_[a];
  }
  return i;
}

}  // namespace ns
