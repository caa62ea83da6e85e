// neurosweep._engine: the Python face of ns::Evaluator (host/run/evaluate.hpp), the engine that
// `neurosweep run` uses, in memory. python/neurosweep/engine.py wraps it (DataFrames, dicts,
// checks of shapes and types); this module takes the spec as JSON text and the parameter block as
// a C-contiguous float64 array of shape (k, n), one row per named parameter, and returns every
// column as raw bytes with its dtype. The evaluation runs with the GIL released.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <vector>

#include "errors.hpp"
#include "run/evaluate.hpp"
#include "run/simulate.hpp"
#include "spec/spec.hpp"

namespace nb = nanobind;

namespace {

class PyEngine {
 public:
  PyEngine(const std::string& spec_json, const std::string& source, const std::string& backend, int threads,
           int spikes, uint64_t chunk) {
    ns::EvalOptions o;
    o.backend = backend;
    o.threads = threads;
    o.spikes = spikes;
    o.chunk = chunk;
    ev_ = std::make_unique<ns::Evaluator>(ns::parse_spec_text(spec_json, source), o);
  }

  nb::dict evaluate(const std::vector<std::string>& names,
                    nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu> values,
                    std::optional<nb::ndarray<const uint64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>> index,
                    uint64_t index_offset) {
    if (values.shape(0) != names.size())
      throw ns::SpecError("values: " + std::to_string(values.shape(0)) + " rows of parameters for " +
                          std::to_string(names.size()) + " names");
    const size_t n = values.shape(1);
    if (index && index->shape(0) != n)
      throw ns::SpecError("index: " + std::to_string(index->shape(0)) + " entries for " + std::to_string(n) + " rows");
    ns::EvalResult r;
    {
      nb::gil_scoped_release release;
      r = ev_->evaluate(names, values.data(), n, index ? index->data() : nullptr, index_offset);
    }
    nb::dict out;
    nb::dict timings;
    timings["check_s"] = r.check_s;
    timings["integrate_s"] = r.integrate_s;
    timings["classify_s"] = r.classify_s;
    out["__timings"] = timings;
    for (const auto& c : r.columns) {
      const auto& b = r.data.columns.at(c.name);
      out[c.name.c_str()] = nb::bytes(reinterpret_cast<const char*>(b.data()), b.size());
    }
    if (!ev_->rate_series().empty())  // n x series x bins floats (Hz), /rates's row layout
      out["__rates"] = nb::bytes(reinterpret_cast<const char*>(r.data.rates.data()), r.data.rates.size() * sizeof(float));
    if (ev_->options().spikes > 0) {  // spike_slots() trains per row, row-major; times flat
      out["__spike_counts"] = nb::bytes(reinterpret_cast<const char*>(r.data.spike_counts.data()),
                                        r.data.spike_counts.size() * sizeof(uint32_t));
      out["__spike_times"] = nb::bytes(reinterpret_cast<const char*>(r.data.spike_times.data()),
                                       r.data.spike_times.size() * sizeof(float));
    }
    return out;
  }

  void check(const std::vector<std::string>& names,
             nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu> values) const {
    if (values.shape(0) != names.size())
      throw ns::SpecError("values: " + std::to_string(values.shape(0)) + " rows of parameters for " +
                          std::to_string(names.size()) + " names");
    ev_->check(names, values.data(), values.shape(1));
  }

  // One row's state trace (Evaluator::trace): names, units and one float64 buffer per column.
  nb::dict trace(const std::vector<std::string>& names,
                 nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu> values, int64_t every_steps,
                 uint64_t index) {
    if (values.shape(0) != names.size() || values.shape(1) != 1)
      throw ns::SpecError("trace: one value per name (got " + std::to_string(values.shape(0)) + " x " +
                          std::to_string(values.shape(1)) + " for " + std::to_string(names.size()) + " names)");
    ns::Trace tr;
    {
      nb::gil_scoped_release release;
      tr = ev_->trace(names, values.data(), every_steps, index);
    }
    nb::dict out;
    out["names"] = tr.names;
    out["units"] = tr.units;
    nb::list cols;
    for (const auto& c : tr.columns)
      cols.append(nb::bytes(reinterpret_cast<const char*>(c.data()), c.size() * sizeof(double)));
    out["columns"] = cols;
    return out;
  }

  nb::list columns() const {
    nb::list l;
    for (const auto& c : ev_->columns()) {
      nb::dict d;
      d["name"] = c.name;
      d["dtype"] = c.dtype;
      d["units"] = c.units;
      d["description"] = c.description;
      d["enum_names"] = c.enum_names;
      l.append(d);
    }
    return l;
  }
  nb::list params() const {
    nb::list l;
    for (const auto& p : ev_->model().params) {
      if (ns::is_hidden_name(p.name)) continue;
      nb::dict d;
      d["name"] = std::string(p.name);
      d["unit"] = std::string(p.unit);
      d["default"] = ev_->spec().base_params[static_cast<size_t>(&p - ev_->model().params.data())];
      l.append(d);
    }
    return l;
  }
  // The resolved settings, as `neurosweep run` writes them into a database's root attributes
  // (dt_ms, transient_ms, analysis_ms, seed, precision, gating) and its /rates layout.
  nb::dict settings() const {
    const ns::RunSpec& s = ev_->spec();
    nb::dict d;
    d["dt_ms"] = s.dt_ms;
    d["transient_ms"] = s.transient_ms;
    d["analysis_ms"] = s.analysis_ms;
    d["seed"] = s.seed;
    d["precision"] = ns::to_string(s.precision);
    d["gating"] = ns::to_string(ev_->settings().gating);
    d["rate_series"] = ev_->rate_series();
    d["rate_bins"] = ev_->rate_bins();
    d["rate_bin_ms"] = ev_->rate_bin_ms();
    return d;
  }
  std::string model() const { return ev_->model().name; }
  std::string backend() const { return ev_->backend_name(); }
  std::string device() const { return ev_->backend_device(); }
  std::string notice() const { return ev_->backend_notice(); }
  int spikes() const { return ev_->options().spikes; }
  std::vector<std::string> spike_cells() const { return ev_->spike_cells(); }

 private:
  std::unique_ptr<ns::Evaluator> ev_;
};

}  // namespace

NB_MODULE(_engine, m) {
  m.doc() = "neurosweep's engine in memory (host/run/evaluate.hpp); use neurosweep.Engine";
  nb::exception<ns::SpecError>(m, "SpecError", PyExc_ValueError);
  nb::exception<ns::BackendError>(m, "BackendError", PyExc_RuntimeError);
  nb::class_<PyEngine>(m, "Engine")
      .def(nb::init<const std::string&, const std::string&, const std::string&, int, int, uint64_t>(),
           nb::arg("spec_json"), nb::arg("source"), nb::arg("backend") = "auto", nb::arg("threads") = 0,
           nb::arg("spikes") = 0, nb::arg("chunk") = 0)
      .def("evaluate", &PyEngine::evaluate, nb::arg("names"), nb::arg("values"), nb::arg("index").none(),
           nb::arg("index_offset") = 0)
      .def("check", &PyEngine::check, nb::arg("names"), nb::arg("values"))
      .def("trace", &PyEngine::trace, nb::arg("names"), nb::arg("values"), nb::arg("every_steps"),
           nb::arg("index") = 0)
      .def("columns", &PyEngine::columns)
      .def("params", &PyEngine::params)
      .def("settings", &PyEngine::settings)
      .def_prop_ro("model", &PyEngine::model)
      .def_prop_ro("backend", &PyEngine::backend)
      .def_prop_ro("device", &PyEngine::device)
      .def_prop_ro("notice", &PyEngine::notice)
      .def_prop_ro("spikes", &PyEngine::spikes)
      .def_prop_ro("spike_cells", &PyEngine::spike_cells);
}
