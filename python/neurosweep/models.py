"""The model registry from Python: what `neurosweep models --json` reports.

    import neurosweep as ns
    ns.models()                      # [{'name': 'stg', 'kind': 'conductance_neuron', 'description': ...}, ...]
    info = ns.model_info("iaf_psc_alpha")
    info["parameters"]               # name, unit, default, lower/upper (None: unbounded), rule, source, doc
    info["state"]                    # name, unit, initial (None: from the parameters), start_param
    info["presets"]                  # name, source, values
"""
import json
from typing import Any, Dict, List, Optional

from .errors import SimulateError
from .simulate import _run, find_binary


def _json(args: List[str], what: str, binary: Optional[str]) -> Any:
    exe = find_binary(binary)
    p = _run([exe, "models", *args, "--json"], what)
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise SimulateError(f"{what}: `neurosweep models --json` printed no JSON: {e}") from e


def models(binary: Optional[str] = None) -> List[Dict[str, str]]:
    """Every registered model: name, kind (conductance_neuron, point_neuron, circuit), description."""
    return _json([], "models", binary)


def model_info(name: str, binary: Optional[str] = None) -> Dict[str, Any]:
    """Everything about one model: parameters with unit, default and admissible range (lower,
    upper, *_inclusive, integer, rule, source), state variables with their default start values
    (and the parameter that sets each), presets. Raises SimulateError for an unknown name (the
    message lists the valid ones)."""
    return _json([name], f"model '{name}'", binary)
