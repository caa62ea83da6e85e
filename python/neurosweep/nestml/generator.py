"""The neurosweep code-generation target for NESTML (docs/NESTML.md).

NESTML's own toolchain does the language work: PyNESTML parses the .nestml file and checks it
(its context conditions, "CoCos"), its transformers prepare the model for a C++ target (time step
__h in the internals, C++ keyword renaming, inline-expression expansion, convolutions as buffers,
ODE-toolbox analysis: exact propagators where the ODEs are linear, a numeric right-hand side
otherwise), and NESTCodeGenerator.analyse_neuron / _get_neuron_model_namespace turn the solver
output into the namespace every NESTML C++ target renders. NeurosweepCodeGenerator is a target
made the way NESTML's targets are made (a CodeGenerator subclass with its printers and a Jinja2
template, templates/@NEURON_NAME@.hpp.jinja2), like PythonStandaloneCodeGenerator and
GeNNCodeGenerator it subclasses NESTCodeGenerator for the analysis without needing NEST.

The result is one header implementing neurosweep's model concept (docs/MODELS.md): parameters
with units, defaults and documentation; state with start values from NESTML's initialisers;
internals and propagators computed once per instance in derive(); the update block,
onReceive and onCondition handlers in step(), in NEST's per-step order (NESTML's NEST target,
common/NeuronClass.jinja2).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

GENERATOR_VERSION = "1"  # bump when the generated code changes (part of the plugin cache key)

NUMERIC_SOLVERS = ("rk45", "forward-Euler")


class NestmlError(Exception):
    """A .nestml file that NESTML refuses (syntax or type error: file and line), or a construct
    the neurosweep target cannot express (named)."""


@dataclass
class GeneratedModel:
    name: str              # NESTML model name (the spec's "model" for a registered plugin)
    header: str            # path of the generated header
    struct: str            # C++ type name in namespace ns::nestml
    source: str            # the .nestml file
    params: List[Dict[str, Any]] = field(default_factory=list)
    state: List[Dict[str, Any]] = field(default_factory=list)
    solver: str = ""


def _nestml_messages(levels=("ERROR",)):
    from pynestml.utils.logger import Logger, LoggingLevel
    out = []
    for entry in Logger.get_log().values():
        _artifact, _node, level, _code, pos, msg = entry
        if level.name in levels:
            out.append((pos, msg))
    return out


def _fmt_pos(path: str, pos) -> str:
    if pos is None:
        return path
    try:
        return f"{path}:{pos.start_line}:{pos.start_column}"
    except AttributeError:
        return path


def _check_file(path: str) -> str:
    if not os.path.isfile(path):
        raise NestmlError(f"{path}: no such NESTML file")
    if not path.endswith(".nestml"):
        raise NestmlError(f"{path}: a NESTML model file must end in .nestml")
    return os.path.abspath(path)


def generate(nestml_file: str, out_dir: str, numeric_solver: str = "rk45",
             gsl_tolerance: float = 1e-6) -> GeneratedModel:
    """Parse, check and analyse `nestml_file` with PyNESTML/ODE-toolbox and write the header
    <model>.hpp into out_dir. Raises NestmlError naming the file and line for NESTML errors and
    naming the construct for what the target cannot express."""
    path = _check_file(nestml_file)
    if numeric_solver not in NUMERIC_SOLVERS:
        raise NestmlError(f"{path}: numeric_solver '{numeric_solver}': expected one of {', '.join(NUMERIC_SOLVERS)}")
    os.makedirs(out_dir, exist_ok=True)

    from pynestml.frontend import pynestml_frontend as fe
    from pynestml.utils.logger import Logger
    from pynestml.frontend.frontend_configuration import FrontendConfiguration
    from pynestml.cocos.co_cos_manager import CoCosManager

    work = tempfile.mkdtemp(prefix="ns-nestml-")
    opts = {"solver": "analytic", "numeric_solver": numeric_solver}
    fe.configure_front_end(path, "NEST", target_path=os.path.join(work, "target"),
                           logging_level="ERROR", codegen_opts=opts)
    Logger.no_print = True
    transformers, _unused = fe.transformers_from_target_name("NEST", options=opts)
    try:
        models = fe.get_parsed_models()
    except Exception as e:  # the parser raises on some syntax errors after logging them
        errs = _nestml_messages()
        if errs:
            raise NestmlError("\n".join(f"{_fmt_pos(path, p)}: error: {m}" for p, m in errs)) from None
        raise NestmlError(f"{path}: NESTML could not parse the file: {e}") from None
    for m in models:
        if not Logger.has_errors(m):
            CoCosManager.check_cocos(m)
    errs = _nestml_messages()
    if errs or not models:
        if not errs:
            raise NestmlError(f"{path}: no model found (NESTML files hold `model NAME:` blocks)")
        raise NestmlError("\n".join(f"{_fmt_pos(path, p)}: error: {m}" for p, m in errs))
    if len(models) != 1:
        raise NestmlError(f"{path}: {len(models)} models in one file; neurosweep loads one model per .nestml file")
    model = models[0]
    _refuse_unsupported(path, model)
    models, metadata = fe.transform_models(transformers, models)
    gen = NeurosweepCodeGenerator({"numeric_solver": numeric_solver})
    gen.source_path = path
    gen.gsl_tolerance = gsl_tolerance
    gen.target_dir = out_dir
    FrontendConfiguration.target_path = out_dir
    try:
        gen.generate_code(list(models), metadata)
    except NestmlError:
        raise
    except Exception as e:
        errs = _nestml_messages()
        if errs:
            raise NestmlError("\n".join(f"{_fmt_pos(path, p)}: error: {m}" for p, m in errs)) from None
        raise NestmlError(f"{path}: code generation failed: {type(e).__name__}: {e}") from None
    return gen.result


def _refuse_unsupported(path: str, model) -> None:
    """Constructs neurosweep's per-instance engine cannot express, refused by name."""
    body = model.get_body()
    from .printers import UnsupportedConstruct  # noqa: F401
    if model.get_name().endswith("synapse") or getattr(model, "is_synapse", lambda: False)():
        raise NestmlError(f"{path}: model '{model.get_name()}' is a synapse model; neurosweep runs neuron models only (plasticity is not supported)")
    for blk in model.get_input_blocks():
        for port in blk.get_input_ports():
            if port.has_size_parameter():
                raise NestmlError(f"{_fmt_pos(path, port.get_source_position())}: unsupported construct: vector input port "
                                  f"'{port.get_name()}[...]' (multisynapse models: neurosweep feeds one excitatory and one inhibitory train)")
    if model.has_delay_variables():
        raise NestmlError(f"{path}: unsupported construct: delay differential equations (a variable used with a delay)")
    if model.has_state_vectors():
        raise NestmlError(f"{path}: unsupported construct: vector state variables")
    for fn in model.get_functions():
        raise NestmlError(f"{_fmt_pos(path, fn.get_source_position())}: unsupported construct: user-defined function '{fn.get_name()}'")
    if len(model.get_equations_blocks()) > 1:
        raise NestmlError(f"{path}: unsupported construct: more than one equations block")


def _cpp_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"_+", name) if w) or "Model"


# The NESTCodeGenerator import is deferred (module import must not require pynestml).
def _generator_class():
    from pynestml.codegeneration.code_generator import CodeGenerator
    from pynestml.codegeneration.nest_code_generator import NESTCodeGenerator

    class _Gen(NESTCodeGenerator):
        _default_options = {
            "templates": {
                "path": os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates"),
                "model_templates": {"neuron": ["@NEURON_NAME@.hpp.jinja2"], "synapse": []},
                "module_templates": [],
            },
            "solver": "analytic",
            "numeric_solver": "rk45",
            "nest_version": "v3.10",  # only read to pick NEST-2 printers; no NEST is needed
        }

        def __init__(self, options=None):
            # as PythonStandaloneCodeGenerator: skip NESTCodeGenerator.__init__ (NEST detection)
            CodeGenerator.__init__(self, {**_Gen._default_options, **(options or {})})
            for k, v in NESTCodeGenerator._default_options.items():
                if k not in self._options:
                    self.add_options({k: v})
            self.non_equations_state_variables = {}
            self.setup_template_env()
            self.setup_printers()
            self.result = None

        def generate_module_code(self, neurons, synapses, metadata) -> None:
            return None

        def _get_neuron_model_namespace(self, neuron, metadata):
            ns = super()._get_neuron_model_namespace(neuron, metadata)
            from .lower import lower_model
            try:
                ir = lower_model(self, neuron, ns)
            except NestmlError:
                raise
            except Exception as e:
                from .printers import UnsupportedConstruct
                if isinstance(e, UnsupportedConstruct):
                    raise NestmlError(f"{_fmt_pos(self.source_path, e.position)}: unsupported construct: {e.what}") from None
                raise
            ns["ns"] = ir
            self.result = GeneratedModel(name=neuron.get_name(),
                                         header=os.path.join(self.target_dir, neuron.get_name() + ".hpp"),
                                         struct=ir["struct"], source=self.source_path,
                                         params=ir["params_json"], state=ir["state_json"],
                                         solver=ir["solver"])
            return ns

    return _Gen


class _LazyGen:
    def __call__(self, options=None):
        return _generator_class()(options)


NeurosweepCodeGenerator = _LazyGen()


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
