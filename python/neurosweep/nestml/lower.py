"""From the namespace NESTML's C++ targets render (NESTCodeGenerator._get_neuron_model_namespace:
solver data, spike updates, the transformed AST) to the pieces of a neurosweep model header.

Per-step order (NESTML's NEST target, resources_nest/point_neuron/common/NeuronClass.jinja2,
update()): this step's spike sums -> convolution temporaries -> update block -> onReceive of the
ports that received -> convolution commit and kernel spike increments -> onCondition blocks.
integrate_odes(args): exact propagation of the analytic variables among args (temporaries first,
assigned after the numeric part), numeric integration of the numeric variables among args (the
others held constant, their derivative 0), convolution states restored after the numeric step
(they advance once per step, outside integrate_odes), then the spike updates of the integrated
non-convolution variables (PredefinedFunction_integrate_odes.jinja2).
"""
from __future__ import annotations

import math
import re
from typing import Dict, List

from pynestml.codegeneration.nest_unit_converter import NESTUnitConverter
from pynestml.symbols.predefined_functions import PredefinedFunctions
from pynestml.symbols.symbol import SymbolKind
from pynestml.symbols.unit_type_symbol import UnitTypeSymbol
from pynestml.utils.ast_utils import ASTUtils

from .printers import (StatementPrinter, UnsupportedConstruct, make_expression_printer,
                       port_local)

_TIMESTEP = "__h"


def _unit_and_factor(symbol):
    ts = symbol.get_type_symbol()
    if isinstance(ts, UnitTypeSymbol):
        unit = ts.unit.unit
        return ts.print_nestml_type(), NESTUnitConverter.get_factor(unit)
    name = ts.print_nestml_type()
    return ("1" if name in ("real", "integer") else name), 1


def _comment(node) -> str:
    try:
        c = node.get_comments() or []
        return " ".join(x.strip() for x in c if x and x.strip())
    except Exception:
        return ""


def _py_eval(cpp: str, env: Dict[str, float]) -> float:
    """Value of a printed C++ constant expression (parameter defaults, start values) from the
    parameters' defaults; NaN when it is not a plain arithmetic expression."""
    e = cpp
    e = e.replace("::ns::fexp", "math.exp").replace("::ns::flog", "math.log")
    e = re.sub(r"std::numeric_limits<\s*\w+\s*>::infinity\(\)", "math.inf", e)
    e = e.replace("std::", "math.").replace("ns_max", "max").replace("ns_min", "min").replace("ns_abs", "abs")
    e = re.sub(r"\bT\(", "(", e)
    e = re.sub(r"\bINFINITY\b", "math.inf", e)
    e = e.replace("true", "True").replace("false", "False").replace("&&", " and ").replace("||", " or ")
    if "?" in e:
        return math.nan
    try:
        return float(eval(e, {"math": math, "__builtins__": {"max": max, "min": min, "abs": abs, "float": float}}, dict(env)))
    except Exception:
        return math.nan


def lower_model(gen, neuron, ns) -> dict:
    expr = make_expression_printer()
    P = expr.print
    name = neuron.get_name()
    struct = "Nestml" + "".join(w[:1].upper() + w[1:] for w in name.split("_") if w)

    # ---- parameters (in NESTML units; derive() scales to NEST base units) --------------------
    params, env = [], {}
    for blk in neuron.get_parameters_blocks():
        for decl in blk.get_declarations():
            for var in decl.get_variables():
                sym = var.get_scope().resolve_to_symbol(var.get_complete_name(), SymbolKind.VARIABLE)
                unit, factor = _unit_and_factor(sym)
                cpp = P(decl.get_expression()) if decl.has_expression() else "0"
                val = _py_eval(cpp, env)
                if val != val:
                    raise UnsupportedConstruct(
                        f"parameter '{var.get_name()}': its default '{cpp}' is not a constant expression of the "
                        "parameters before it (neurosweep needs a number for the parameter table)", decl)
                env[var.get_name()] = val
                params.append({"name": var.get_name(), "cpp": var.get_name(), "unit": unit, "factor": factor,
                               "default": val / factor, "doc": _comment(decl) or f"NESTML parameter {var.get_name()}"})

    # ---- internals (propagators added by the analysis come last), __h = the grid step ---------
    internals = []
    for blk in neuron.get_internals_blocks():
        for decl in blk.get_declarations():
            for var in decl.get_variables():
                n = var.get_name()
                if n == _TIMESTEP:
                    internals.append({"name": n, "cpp": "double(ns_dt)"})
                else:
                    internals.append({"name": n, "cpp": P(decl.get_expression())})

    # ---- state (declaration order; kernel buffers from convolutions included) -----------------
    state = []
    senv = dict(env)
    for blk in neuron.get_state_blocks():
        for decl in blk.get_declarations():
            if decl.has_size_parameter():
                raise UnsupportedConstruct(f"vector state variable '{decl.get_variables()[0].get_name()}'", decl)
            for var in decl.get_variables():
                sym = var.get_scope().resolve_to_symbol(var.get_complete_name(), SymbolKind.VARIABLE)
                unit, _f = _unit_and_factor(sym)
                init_cpp = P(decl.get_expression()) if decl.has_expression() else "0"
                val = _py_eval(init_cpp, senv)
                senv[var.get_name()] = val
                state.append({"name": var.get_name(), "unit": unit, "init": init_cpp, "initial": val})
    state_names = [s["name"] for s in state]
    if not state:
        raise UnsupportedConstruct("a model without state variables")
    vname = "V_m" if "V_m" in state_names else next((s["name"] for s in state if s["unit"] == "mV"), state_names[0])

    # ---- inputs ----------------------------------------------------------------------------------
    spike_ports, cont_ports = [], []
    for blk in neuron.get_input_blocks():
        for port in blk.get_input_ports():
            (spike_ports if port.is_spike() else cont_ports).append(port)
    port_lines, exc_done, inh_done = [], False, False
    unqual = [p for p in spike_ports if not (p.is_excitatory() or p.is_inhibitory())]
    if len(unqual) > 1 or (unqual and len(spike_ports) > 1):
        raise UnsupportedConstruct(
            "spike input ports " + ", ".join(p.get_name() for p in spike_ports) +
            ": neurosweep feeds one signed port, or one 'excitatory' and one 'inhibitory' port", spike_ports[0])
    for p in spike_ports:
        if p.is_excitatory() and p.is_inhibitory():
            src = "(ns_w_ex - ns_w_in)"
        elif p.is_excitatory():
            if exc_done:
                raise UnsupportedConstruct(f"second excitatory spike port '{p.get_name()}'", p)
            exc_done, src = True, "ns_w_ex"
        elif p.is_inhibitory():
            if inh_done:
                raise UnsupportedConstruct(f"second inhibitory spike port '{p.get_name()}'", p)
            inh_done, src = True, "ns_w_in"   # NESTML stores inhibitory weights as magnitudes
        else:
            src = "(ns_w_ex - ns_w_in)"     # unqualified: signed sum
        port_lines.append(f"const T {port_local(p.get_name())} = {src};")
    for k, p in enumerate(cont_ports):
        src = "ns_i_stim" if k == 0 else "T(0)"
        port_lines.append(f"const T {port_local(p.get_name())} = {src};  // continuous input"
                          + ("" if k == 0 else " (only the first continuous port is fed)"))
    cur_unit = "pA"
    if cont_ports and cont_ports[0].has_datatype():
        cur_unit = str(cont_ports[0].get_datatype()).strip() or "pA"

    # ---- solver data -------------------------------------------------------------------------------
    analytic = list(ns.get("analytic_state_variables", [])) if ns["uses_analytic_solver"] else []
    numeric = list(ns.get("numeric_state_variables", [])) if ns["uses_numeric_solver"] else []
    upd = ns.get("update_expressions", {})
    nupd = ns.get("numeric_update_expressions", {})
    solver_kind = ns.get("numeric_solver", "") if numeric else ""
    conv = [v for v in analytic if "__X__" in v]
    spike_updates = ns.get("spike_updates", {})
    for v in analytic + numeric:
        if v not in state_names:
            raise UnsupportedConstruct(f"ODE variable '{v}' that is not a state variable")

    rhs_structs: List[dict] = []
    rhs_key: Dict[tuple, int] = {}
    captured = [q["name"] for q in params] + [i["name"] for i in internals] + \
        [s for s in state_names if s not in numeric] + [port_local(p.get_name()) for p in spike_ports + cont_ports]

    def rhs_for(active: tuple) -> int:
        if active in rhs_key:
            return rhs_key[active]
        k = len(rhs_structs)
        rhs_key[active] = k
        lines = []
        for j, v in enumerate(numeric):
            if v in active or v in conv:
                lines.append(f"f[{j}] = T({P(nupd[v])});")
            else:
                lines.append(f"f[{j}] = T(0);  // {v}: not integrated in this call")
        rhs_structs.append({"index": k, "lines": lines, "active": list(active)})
        return k

    def integrate(call, indent):
        args = [str(a) for a in ASTUtils.integrate_odes_args_strs_from_function_call(call)] if call.get_args() else []
        for a in args:
            if a not in state_names:
                raise UnsupportedConstruct(f"integrate_odes({a}): '{a}' is not a state variable with an ODE", call)
        an = [v for v in analytic if (not args or v in args) and "__X__" not in v]
        nu = [v for v in numeric if (not args or v in args)]
        out = [f"{indent}{{  // integrate_odes({', '.join(args)})"]
        i2 = indent + "  "
        for v in an:
            out.append(f"{i2}const T {v}__tmp = T({P(upd[v])});")
        if nu:
            k = rhs_for(tuple(nu))
            out.append(f"{i2}T ns_y[kNumOde];")
            for j, v in enumerate(numeric):
                out.append(f"{i2}ns_y[{j}] = {v};")
            cap = ", ".join(captured)
            out.append(f"{i2}Rhs{k}<T> ns_sys{{{cap}}};")
            if solver_kind == "forward-Euler":
                out.append(f"{i2}T ns_f[kNumOde];")
                out.append(f"{i2}ns_sys.template rhs<T>(ns_y, ns_f);")
                out.append(f"{i2}for (int ns_j = 0; ns_j < kNumOde; ++ns_j) ns_y[ns_j] = ns_y[ns_j] + __h * ns_f[ns_j];")
            else:
                out.append(f"{i2}if (!::ns::point::rkf45_evolve<kNumOde, ::ns::point::Rkf45Control::kY, T>("
                           f"ns_sys, ns_y, ns_h_int, __h, T(kGslTolerance))) ns_y[0] = T(0) / T(0);")
            for j, v in enumerate(numeric):
                if v in nu and v not in conv:
                    out.append(f"{i2}{v} = ns_y[{j}];")
        for v in an:
            out.append(f"{i2}{v} = {v}__tmp;")
        integrated = set(an) | set(nu)
        for port, assigns in spike_updates.items():
            for a in assigns:
                lhs = a.get_variable().get_name()
                if lhs in integrated and "__X__" not in lhs:
                    out += sp.small(_as_small(a), i2)
        out.append(f"{indent}}}")
        return out

    def on_call(call, indent):
        n = call.get_name()
        if n == PredefinedFunctions.INTEGRATE_ODES:
            return integrate(call, indent)
        if n == PredefinedFunctions.EMIT_SPIKE:
            if call.get_args():
                raise UnsupportedConstruct("emit_spike() with arguments (spike payloads)", call)
            return [f"{indent}ns_spiked = true;"]
        return None

    sp = StatementPrinter(expr, on_call)

    step: List[str] = []
    I = "    "
    for v in conv:
        step.append(f"{I}const T {v}__conv = T({P(upd[v])});  // convolution, step 1")
    for blk in neuron.get_update_blocks():
        step += sp.block(blk.get_stmts_body(), I)
    port_names = {p.get_name() for p in spike_ports}
    for blk in neuron.get_on_receive_blocks():
        pn = blk.get_port_name()
        if pn not in port_names:
            raise UnsupportedConstruct(f"onReceive({pn}): not a spike input port", blk)
        if blk.get_const_parameters():
            pass  # priorities: blocks run in file order (one port fires per train)
        step.append(f"{I}if ({port_local(pn)} != T(0)) {{  // onReceive({pn})")
        step += sp.block(blk.get_stmts_body(), I + "  ")
        step.append(f"{I}}}")
    for v in conv:
        step.append(f"{I}{v} = {v}__conv;  // convolution, step 2")
    for port, assigns in spike_updates.items():
        for a in assigns:
            if "__X__" in a.get_variable().get_name():
                step += sp.small(_as_small(a), I)
    for blk in neuron.get_on_condition_blocks():
        step.append(f"{I}if ({P(blk.get_cond_expr())}) {{  // onCondition")
        step += sp.block(blk.get_stmts_body(), I + "  ")
        step.append(f"{I}}}")

    # syn weight unit: the unit of what the first onReceive block (or kernel update) changes
    w_unit = "1"
    try:
        blks = neuron.get_on_receive_blocks()
        target = None
        if blks:
            st = blks[0].get_stmts_body().get_stmts()[0]
            if st.is_small_stmt() and st.small_stmt.is_assignment():
                target = st.small_stmt.get_assignment().get_variable()
        if target is None:
            for assigns in spike_updates.values():
                if assigns:
                    target = assigns[0].get_variable()
                    break
        if target is None:
            for blk in neuron.get_update_blocks():
                for st in blk.get_stmts_body().get_stmts():
                    if st.is_small_stmt() and st.small_stmt.is_assignment() and any(
                            v.get_name() in port_names for v in st.small_stmt.get_assignment().get_expression().get_variables()):
                        target = st.small_stmt.get_assignment().get_variable()
                        break
        if target is not None:
            sym = target.get_scope().resolve_to_symbol(target.get_complete_name(), SymbolKind.VARIABLE)
            if sym is not None:
                w_unit = _unit_and_factor(sym)[0]
    except Exception:
        pass

    derived = [("D_" + q["name"]) for q in params] + [("D_" + i["name"]) for i in internals] + \
        [("D_init_" + s) for s in state_names]
    extra_state = ["ns_h_int"] if (numeric and solver_kind == "rk45") else []

    return {
        "name": name,
        "struct": struct,
        "source": gen.source_path,
        "digest": __import__("hashlib").sha256(open(gen.source_path, "rb").read()).hexdigest(),
        "params": params,
        "internals": internals,
        "state": state,
        "vname": vname,
        "extra_state": extra_state,
        "derived": derived,
        "port_lines": port_lines,
        "has_spike_ports": bool(spike_ports),
        "cur_unit": cur_unit,
        "w_unit": w_unit,
        "numeric": numeric,
        "rhs_structs": rhs_structs,
        "captured": captured,
        "solver": ("analytic" if analytic else "") + ("+" if analytic and numeric else "") + (solver_kind if numeric else ""),
        "gsl_tolerance": repr(float(getattr(gen, "gsl_tolerance", 1e-6))),
        "step_lines": step,
        "cpp_double": lambda x: _cpp_double(x),
        "cpp_str": lambda s: _cpp_str(s),
        "params_json": [{k: q[k] for k in ("name", "unit", "default", "doc")} for q in params],
        "state_json": [{"name": s["name"], "unit": s["unit"], "initial": s["initial"]} for s in state],
    }


def _as_small(assignment):
    """Wrap a spike-update ASTAssignment so StatementPrinter.small() can print it."""
    class _S:
        def __init__(self, a):
            self._a = a

        def is_assignment(self):
            return True

        def get_assignment(self):
            return self._a
    return _S(assignment)


def _cpp_double(x: float) -> str:
    if x != x:
        return "std::numeric_limits<double>::quiet_NaN()"
    if math.isinf(x):
        return ("-" if x < 0 else "") + "std::numeric_limits<double>::infinity()"
    return repr(float(x))


def _cpp_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
