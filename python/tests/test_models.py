"""ns.models() and ns.model_info() read `neurosweep models --json` (the C++ registry)."""
import pytest

import neurosweep as ns


def test_models_lists_every_model_with_its_kind(binary):
    ms = {m["name"]: m for m in ns.models(binary)}
    assert ms["stg"]["kind"] == "conductance_neuron"
    assert ms["iaf_psc_alpha"]["kind"] == "point_neuron"
    assert ms["pyloric"]["kind"] == "circuit"
    assert all(m["description"] for m in ms.values())


def test_model_info_gives_ranges_defaults_and_start_states(binary):
    info = ns.model_info("iaf_psc_alpha", binary)
    p = {q["name"]: q for q in info["parameters"]}
    # NEST iaf_psc_alpha.cpp Parameters_::set: C_m > 0, t_ref >= 0
    assert p["C_m"]["default"] == 250.0 and p["C_m"]["unit"] == "pF"
    assert p["C_m"]["lower"] == 0.0 and p["C_m"]["lower_inclusive"] is False and p["C_m"]["upper"] is None
    assert p["t_ref"]["lower"] == 0.0 and p["t_ref"]["lower_inclusive"] is True
    assert p["C_m"]["rule"] == "C_m > 0" and "iaf_psc_alpha" in p["C_m"]["source"]
    s = {q["name"]: q for q in info["state"]}
    assert s["V_m"]["initial"] == -70.0 and s["V_m"]["start_param"] == "V_m"
    stg = ns.model_info("stg", binary)
    assert len(stg["presets"]) == 16 and stg["presets"][0]["name"] == "ABPD1"


def test_model_info_unknown_name_lists_valid_names(binary):
    with pytest.raises(ns.SimulateError, match="unknown model.*iaf_psc_alpha"):
        ns.model_info("iaf_psc_alfa", binary)
