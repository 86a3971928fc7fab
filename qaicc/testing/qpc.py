"""Helpers for tests of the qpc level: small aic-core modules, compiling to a QPC file.

- ``matmul_module(cores, tiles)``: ``y = reshape(x @ w)`` with a constant ``w``, split by
  rows across ``cores``, each block in ``tiles`` pieces, lowered to aic-core (the
  inputs are returned with it).
- ``model_to_aic_core(path, cores, tiles)``: an ONNX model through the front end,
  ``split_evenly`` and ``convert-aic-graph-to-aic-core``.
- ``contiguous_constants(module)``: every constant's array C-contiguous (same values).
  The reference executor's results can depend on the memory layout of a constant (a
  transposed view stays Fortran-ordered through ``DDR.read``, and BLAS then sums in
  another order, a last-bit difference); a QPC stores bytes in row-major order, so a
  module rebuilt from it matches the original bit for bit once the original's
  constants are contiguous too.
- ``compile_qpc(module, directory, flags=...)``: ``convert-aic-core-to-qpc`` then
  ``emit-qpc`` on (a clone of) an aic-core module; returns the file's path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region

from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.passes import ALL_PASSES
from qaicc.testing.aic_graph_builders import tensor_type
from qaicc.testing.partitions import lower_to_aic_core, lower_to_aic_graph, split_evenly


def run(module: ModuleOp, spec: str) -> ModuleOp:
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def matmul_graph(rows: int = 8, seed: int = 0) -> tuple[ModuleOp, list[np.ndarray]]:
    """@main_graph(x: rows x 16) -> y: (rows * 4) = reshape(x @ w), w a 16x4 constant."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 16)).astype(np.float32)
    w = rng.standard_normal((16, 4)).astype(np.float32)
    block = Block(arg_types=[tensor_type(x)])
    constant = g.ConstantOp.build(properties={"value": DenseBlobAttr.from_array(w, "w", tensor_type(w))},
                                  result_types=[tensor_type(w)])
    matmul = g.MatMulOp.build(operands=[block.args[0], constant.output, []], result_types=[tensor_type((rows, 4))])
    matmul.attributes["onnx_node_name"] = StringAttr("mm")
    reshape = g.ReshapeOp.build(operands=[matmul.results[0]], result_types=[tensor_type((rows * 4,))])
    block.add_ops([constant, matmul, reshape, func.ReturnOp(reshape.results[0])])
    name = lambda n: ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(n)})])
    function = func.FuncOp("main_graph", ([tensor_type(x)], [tensor_type((rows * 4,))]), Region(block),
                           arg_attrs=name("x"), res_attrs=name("y"))
    return ModuleOp([function]), [x]


def matmul_module(cores: int = 2, tiles: int = 2, rows: int = 8) -> tuple[ModuleOp, list[np.ndarray]]:
    module, inputs = matmul_graph(rows)
    matmul = next(op for op in module.walk() if isinstance(op, g.MatMulOp))
    size = rows // cores
    blocks = [CoreBlock(core, [core * size, 0], [size, 4]) for core in range(cores)]
    write_partition(matmul, Partition(blocks, tiles=tiles, tile_axis=0, ols=tiles))
    run(module, f"convert-aic-graph-to-aic-core{{num_cores={cores}}}")
    return module, inputs


def model_to_aic_core(path: str | Path, cores: int, tiles: int = 2, prefer: str = "rows",
                      batch: int = 1, sequence: int = 16) -> ModuleOp:
    module = lower_to_aic_graph(path, batch, sequence)
    return lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, tiles, prefer))


def contiguous_constants(module: ModuleOp) -> ModuleOp:
    from qaicc.dialects.aic_core import ops as c

    for op in module.ops:
        if isinstance(op, c.DDRTensorOp) and isinstance(op.value, DenseBlobAttr):
            array = op.value.to_numpy()
            if not array.flags.c_contiguous:
                op.properties["value"] = DenseBlobAttr.from_array(
                    np.ascontiguousarray(array), op.value.blob_name.data, op.value.type)
    return module


def compile_qpc(module: ModuleOp, directory: str | Path, *, flags: str | None = None,
                target: str | None = None, clone: bool = True) -> Path:
    """convert-aic-core-to-qpc and emit-qpc; ``module`` is kept unless ``clone=False``."""
    work = module.clone() if clone else module
    options = []
    if flags is not None:
        options.append(f'flags="{flags}"')
    if target is not None:
        options.append(f'target="{target}"')
    convert = "convert-aic-core-to-qpc" + (f"{{{' '.join(options)}}}" if options else "")
    run(work, f'{convert},emit-qpc{{dir="{directory}"}}')
    return Path(directory) / "programqpc.bin"
