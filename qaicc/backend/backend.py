"""The ONNX backend: import once, compile per input-shape signature, run on numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep
from xdsl.dialects.builtin import ModuleOp

from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.semantics.runner import Runner, _dim_params, io_names, main_function, run_module

_ONNX = "bind-symbols{SYMBOLS},shape-inference,canonicalize"
LEVELS = {
    "import": "",
    "onnx": _ONNX,
    "aic-graph": _ONNX + ",convert-onnx-to-aic-graph,fuse-aic-graph",
    "aic-graph-fp16": _ONNX + ",convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16",
    "qpc": "",  # the driver's pipeline down to programqpc.bin, then the simulator (see _compile_qpc)
}
DEFAULT_LEVEL = "qpc"


def _compile_qpc(module: ModuleOp, symbols: dict[str, int], options: dict[str, Any]) -> ModuleOp:
    """Compile like ``qaicc`` (float32, one core unless ``options`` say otherwise), write
    the QPC into a temporary directory, and load the program back from the file."""
    import tempfile

    from qaicc.driver.pipeline import CompileOptions, pipeline_spec
    from qaicc.qpc import load_qpc

    compile_options = CompileOptions(**{"symbols": dict(symbols), **options})
    with tempfile.TemporaryDirectory(prefix="qaicc-backend-") as directory:
        spec = pipeline_spec(compile_options, target=compile_options.hw_version, symbols=symbols, emit_dir=directory)
        run_pipeline(build_pipeline(spec, ALL_PASSES), module.clone(), make_context(), Instrumentation(verify_each=False))
        return load_qpc(directory).to_aic_core()


class QaiccBackendRep(BackendRep):
    def __init__(self, module: ModuleOp, level: str, options: dict[str, Any] | None = None):
        self.module = module
        self.level = level
        self.options = options or {}
        self._compiled: dict[tuple, tuple[ModuleOp, Runner]] = {}

    def _symbols_of(self, inputs: Sequence[Any]) -> dict[str, int]:
        function = main_function(self.module)
        symbols: dict[str, int] = {}
        for index, value in enumerate(inputs):
            shape = np.shape(value) if not isinstance(value, list) else ()
            for axis, name in _dim_params(function, index).items():
                if axis < len(shape):
                    symbols.setdefault(name, int(shape[axis]))
        return symbols

    def compiled(self, inputs: Sequence[Any]) -> tuple[ModuleOp, Runner]:
        symbols = self._symbols_of(inputs)
        key = tuple(sorted(symbols.items()))
        found = self._compiled.get(key)
        if found is not None:
            return found
        if self.level == "qpc":
            self._compiled[key] = (_compile_qpc(self.module, symbols, self.options), Runner())
            return self._compiled[key]
        spec = LEVELS[self.level]
        options = " ".join(f"{name}={size}" for name, size in sorted(symbols.items()))
        binding = f"bind-symbols{{{options}}}" if options else ""
        spec = ",".join(p for p in spec.replace("bind-symbols{SYMBOLS}", binding).split(",") if p)
        module = self.module.clone() if spec else self.module
        if spec:
            run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
        self._compiled[key] = (module, Runner())
        return self._compiled[key]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        function = main_function(self.module)
        names, _ = io_names(function)
        if isinstance(inputs, dict):
            values = [inputs[name] for name in names]
        elif isinstance(inputs, np.ndarray) and len(names) == 1:
            values = [inputs]
        else:
            values = list(inputs)
        module, runner = self.compiled(values)
        outputs = run_module(module, values, runner)
        return tuple(outputs.values())


class QaiccBackend(Backend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return all(node.domain in ("", "ai.onnx") for node in model.graph.node)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> QaiccBackendRep:
        level = kwargs.pop("level", DEFAULT_LEVEL)
        if level not in LEVELS:
            raise QaiccError(f"unknown backend level '{level}'; choose one of {', '.join(LEVELS)}")
        compile_options = {k: kwargs.pop(k) for k in ("num_cores", "ols", "mos", "multicast", "fp16") if k in kwargs}
        return QaiccBackendRep(import_model(model), level, compile_options)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU", outputs_info=None, **kwargs: Any):
        """Run one node: it is wrapped into a model typed from the numpy inputs."""
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        values = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
        present = [name for name in node.input if name]
        graph_inputs = [
            onnx.helper.make_tensor_value_info(
                name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype), np.shape(value)
            )
            for name, value in zip(present, values)
        ]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(name) for name in node.output if name]
        graph = onnx.helper.make_graph([node], "node", graph_inputs, graph_outputs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
        return cls.run_model(model, values, device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device in ("CPU", "cpu")
