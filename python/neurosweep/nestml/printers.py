"""Printers of the neurosweep NESTML target: NESTML expressions and statements as C++ for a
generated model header (docs/NESTML.md).

Expressions are printed with NESTML's own C++ expression printer (pynestml.codegeneration.printers:
CppExpressionPrinter over CppSimpleExpressionPrinter), with two target-specific parts, as NESTML's
targets do it (NESTVariablePrinter, GeNNCVariablePrinter, NESTGPUVariablePrinter):

* NeurosweepVariablePrinter: every model variable is a local of the generated function (state,
  parameters, internals and propagators are copied into locals of type T), so a variable prints
  as its plain name; an input port prints as its local with NESTML's unit factor (spike ports
  have unit 1/s: 0.001 * summed weight per ms, as NEST's generated code does); the time t as the
  end of the step.
* NeurosweepFunctionCallPrinter: exp/ln through ns::fexp/flog (hd.hpp: the same functions the
  built-in models use, so SIMD tiles and the CUDA kernel see the same code), resolution() and
  timestep() as the grid step; random functions are refused (no counter-based RNG stream yet).

Statements (update, onReceive, onCondition blocks) are printed by StatementPrinter, which walks
NESTML's AST (ASTStmtsBody -> ASTStmt -> small/compound statements); integrate_odes() and
emit_spike() are handed to the generator, which knows the solver data.
"""
from __future__ import annotations

from pynestml.codegeneration.nest_unit_converter import NESTUnitConverter
from pynestml.codegeneration.printers.constant_printer import ConstantPrinter
from pynestml.codegeneration.printers.cpp_expression_printer import CppExpressionPrinter
from pynestml.codegeneration.printers.cpp_function_call_printer import CppFunctionCallPrinter
from pynestml.codegeneration.printers.cpp_simple_expression_printer import CppSimpleExpressionPrinter
from pynestml.codegeneration.printers.cpp_variable_printer import CppVariablePrinter
from pynestml.meta_model.ast_variable import ASTVariable
from pynestml.symbols.predefined_functions import PredefinedFunctions
from pynestml.symbols.predefined_variables import PredefinedVariables
from pynestml.symbols.symbol import SymbolKind
from pynestml.symbols.unit_type_symbol import UnitTypeSymbol


class UnsupportedConstruct(Exception):
    """A NESTML construct the neurosweep target cannot express (the message names it)."""

    def __init__(self, what: str, node=None):
        self.what = what
        self.position = node.get_source_position() if node is not None else None
        super().__init__(what)


def port_local(name: str) -> str:
    return "in_" + name


class NeurosweepVariablePrinter(CppVariablePrinter):
    """Plain local names; ports with NESTML's unit factor; `t` = end of the step."""

    def print_variable(self, variable: ASTVariable) -> str:
        name = variable.get_name()
        if name == PredefinedVariables.E_CONSTANT:
            return "T(2.718281828459045)"
        if name == PredefinedVariables.PI_CONSTANT:
            return "T(3.141592653589793)"
        if name == PredefinedVariables.TIME_CONSTANT:
            return "ns_t"
        if variable.has_vector_parameter():
            raise UnsupportedConstruct(f"vector variable '{variable.get_complete_name()}'", variable)
        if variable.is_delay_variable():
            raise UnsupportedConstruct(f"delayed variable '{variable.get_complete_name()}' (delay differential equations)", variable)
        symbol = variable.get_scope().resolve_to_symbol(variable.get_complete_name(), SymbolKind.VARIABLE)
        if symbol is None:
            raise UnsupportedConstruct(f"unresolved variable '{variable.get_complete_name()}'", variable)
        cpp = CppVariablePrinter._print_cpp_name(variable.get_complete_name())
        if symbol.is_buffer():
            factor = 1
            if isinstance(symbol.get_type_symbol(), UnitTypeSymbol):
                factor = NESTUnitConverter.get_factor(symbol.get_type_symbol().unit.unit)
            local = port_local(symbol.get_symbol_name())
            return local if factor == 1 else f"(T({factor!r}) * {local})"
        if symbol.is_inline_expression:
            raise UnsupportedConstruct(f"inline expression '{cpp}' used outside the equations block", variable)
        return cpp


class NeurosweepFunctionCallPrinter(CppFunctionCallPrinter):
    def _print_function_call_format_string(self, function_call) -> str:
        name = function_call.get_name()
        if name == PredefinedFunctions.EXP:
            return "::ns::fexp(T({!s}))"
        if name == PredefinedFunctions.LN:
            return "::ns::flog(T({!s}))"
        if name in (PredefinedFunctions.TIME_RESOLUTION, PredefinedFunctions.TIME_TIMESTEP):
            return "__h"
        if name == PredefinedFunctions.TIME_STEPS:
            return "T(::ns::point::grid_steps(double({!s}), double(__h)))"
        if name == PredefinedFunctions.MAX:
            return "ns_max(T({!s}), T({!s}))"
        if name == PredefinedFunctions.MIN:
            return "ns_min(T({!s}), T({!s}))"
        if name == PredefinedFunctions.CLIP:
            return "ns_min(T({2!s}), ns_max(T({1!s}), T({0!s})))"
        if name == PredefinedFunctions.ABS:
            return "ns_abs(T({!s}))"
        if name == PredefinedFunctions.EXPM1:
            return "(::ns::fexp(T({!s})) - T(1))"
        if name.startswith("random") or name in (PredefinedFunctions.PRINT, PredefinedFunctions.PRINTLN):
            raise UnsupportedConstruct(f"function {name}()", function_call)
        if name in (PredefinedFunctions.INTEGRATE_ODES, PredefinedFunctions.EMIT_SPIKE):
            raise UnsupportedConstruct(f"{name}() inside an expression", function_call)
        if name == PredefinedFunctions.CONVOLVE:
            raise UnsupportedConstruct("convolve() outside the equations block", function_call)
        return super()._print_function_call_format_string(function_call)


def make_expression_printer() -> CppExpressionPrinter:
    var = NeurosweepVariablePrinter(None)
    fun = NeurosweepFunctionCallPrinter(None)
    printer = CppExpressionPrinter(simple_expression_printer=CppSimpleExpressionPrinter(
        variable_printer=var, constant_printer=ConstantPrinter(), function_call_printer=fun))
    var._expression_printer = printer
    fun._expression_printer = printer
    return printer


class StatementPrinter:
    """C++ for NESTML statement blocks. `on_call(function_call, indent)` prints integrate_odes()
    and emit_spike() (it returns the lines, or None for an ordinary call)."""

    def __init__(self, expr: CppExpressionPrinter, on_call):
        self.expr = expr
        self.on_call = on_call

    def block(self, body, indent: str) -> list:
        lines = []
        for stmt in body.get_stmts():
            lines += self.stmt(stmt, indent)
        return lines

    def stmt(self, stmt, indent: str) -> list:
        if stmt.is_small_stmt():
            return self.small(stmt.small_stmt, indent)
        return self.compound(stmt.compound_stmt, indent)

    def small(self, s, indent: str) -> list:
        if s.is_assignment():
            a = s.get_assignment()
            lhs = self.expr.print(a.get_variable())
            rhs = self.expr.print(a.get_expression())
            if a.is_compound_sum:
                op = "+="
            elif a.is_compound_minus:
                op = "-="
            elif a.is_compound_product:
                op = "*="
            elif a.is_compound_quotient:
                op = "/="
            elif a.is_direct_assignment:
                op = "="
            else:
                raise UnsupportedConstruct("integer-quotient assignment", s)
            return [f"{indent}{lhs} = T({lhs} {op[0]} ({rhs}));" if op != "=" else f"{indent}{lhs} = T({rhs});"]
        if s.is_function_call():
            call = s.get_function_call()
            special = self.on_call(call, indent)
            if special is not None:
                return special
            return [f"{indent}{self.expr.print(call)};"]
        if s.is_declaration():
            d = s.get_declaration()
            if d.get_size_parameter() is not None:
                raise UnsupportedConstruct("vector declaration", s)
            out = []
            for v in d.get_variables():
                init = self.expr.print(d.get_expression()) if d.has_expression() else "0"
                out.append(f"{indent}T {CppVariablePrinter._print_cpp_name(v.get_complete_name())} = T({init});")
            return out
        if s.is_return_stmt():
            raise UnsupportedConstruct("return statement in a block", s)
        raise UnsupportedConstruct(f"statement '{s}'", s)

    def compound(self, c, indent: str) -> list:
        inner = indent + "  "
        if c.is_if_stmt():
            st = c.get_if_stmt()
            lines = [f"{indent}if ({self.expr.print(st.get_if_clause().get_condition())}) {{"]
            lines += self.block(st.get_if_clause().get_stmts_body(), inner)
            for el in st.get_elif_clauses():
                lines.append(f"{indent}}} else if ({self.expr.print(el.get_condition())}) {{")
                lines += self.block(el.get_stmts_body(), inner)
            if st.has_else_clause():
                lines.append(f"{indent}}} else {{")
                lines += self.block(st.get_else_clause().get_stmts_body(), inner)
            lines.append(f"{indent}}}")
            return lines
        if c.is_while_stmt():
            st = c.get_while_stmt()
            lines = [f"{indent}while ({self.expr.print(st.get_condition())}) {{"]
            lines += self.block(st.get_stmts_body(), inner)
            return lines + [f"{indent}}}"]
        if c.is_for_stmt():
            st = c.get_for_stmt()
            var = st.get_variable()
            step = self.expr.print(st.get_step()) if hasattr(st, "get_step") else "1"
            lines = [f"{indent}for (T {var} = T({self.expr.print(st.get_start_from())}); "
                     f"{var} <= T({self.expr.print(st.get_end_at())}); {var} += T({step})) {{"]
            lines += self.block(st.get_stmts_body(), inner)
            return lines + [f"{indent}}}"]
        raise UnsupportedConstruct(f"compound statement '{c}'", c)
