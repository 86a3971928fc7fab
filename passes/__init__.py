"""qaicc's passes (installed as ``qaicc.passes``).

``ALL_PASSES`` maps every pipeline name to a factory of its ModulePass class: the
one registry that ``qaicc-opt``, the ``qaicc`` driver and scripts use. Each pass lives
in a file named after it, with its test beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from xdsl.passes import ModulePass


def _lazy(module: str, class_name: str) -> Callable[[], type[ModulePass]]:
    """A factory importing the pass only when used, so that tools start fast."""
    return lambda: getattr(importlib.import_module(module), class_name)


# One line per pass: "pipeline-name": _lazy("module", "PassClass"), sorted by name.
ALL_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "batch": _lazy("qaicc.passes.batch", "BatchPass"),
    "bind-symbols": _lazy("qaicc.passes.bind_symbols", "BindSymbolsPass"),
    "canonicalize": _lazy("qaicc.passes.canonicalize", "CanonicalizePass"),
    "convert-aic-core-to-qpc": _lazy("qaicc.passes.convert_aic_core_to_qpc", "ConvertAicCoreToQpcPass"),
    "convert-aic-graph-to-aic-core": _lazy("qaicc.passes.convert_aic_graph_to_aic_core", "ConvertAicGraphToAicCorePass"),
    "convert-onnx-to-aic-graph": _lazy("qaicc.passes.convert_onnx_to_aic_graph", "ConvertOnnxToAicGraphPass"),
    "cse": _lazy("xdsl.transforms.common_subexpression_elimination", "CommonSubexpressionElimination"),
    "dce": _lazy("xdsl.transforms.dead_code_elimination", "DeadCodeElimination"),
    "emit-qpc": _lazy("qaicc.passes.emit_qpc", "EmitQpcPass"),
    "fuse-aic-graph": _lazy("qaicc.passes.fuse_aic_graph", "FuseAicGraphPass"),
    "insert-multicast": _lazy("qaicc.passes.insert_multicast", "InsertMulticastPass"),
    "keep-on-chip": _lazy("qaicc.passes.keep_on_chip", "KeepOnChipPass"),
    "legalize-fp16": _lazy("qaicc.passes.legalize_fp16", "LegalizeFp16Pass"),
    "mos": _lazy("qaicc.passes.mos", "MosPass"),
    "mxfp6-weights": _lazy("qaicc.passes.mxfp6_weights", "Mxfp6WeightsPass"),
    "ols-split": _lazy("qaicc.passes.ols_split", "OlsSplitPass"),
    "partition-cores": _lazy("qaicc.passes.partition_cores", "PartitionCoresPass"),
    "plan-memory": _lazy("qaicc.passes.plan_memory", "PlanMemoryPass"),
    "schedule": _lazy("qaicc.passes.schedule", "SchedulePass"),
    "shape-inference": _lazy("qaicc.passes.shape_inference", "ShapeInferencePass"),
}
