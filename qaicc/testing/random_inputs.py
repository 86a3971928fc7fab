"""Random inputs for a model's graph inputs (symbolic dims given by name)."""

from __future__ import annotations

import numpy as np
import onnx


def random_inputs(model: onnx.ModelProto, symbols: dict[str, int] | None = None, seed: int = 0) -> dict:
    """Token-like integers (0..99) for integer inputs, ones for masks, zeros for token
    types (segment ids), normals for floats."""
    rng = np.random.default_rng(seed)
    symbols = symbols or {}
    initializers = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        tensor_type = vi.type.tensor_type
        shape = []
        for dim in tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                shape.append(dim.dim_value)
            else:
                shape.append(symbols.get(dim.dim_param, 1))
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        if "mask" in vi.name:
            feeds[vi.name] = np.ones(shape, dtype)
        elif "token_type" in vi.name:
            feeds[vi.name] = np.zeros(shape, dtype)
        elif np.issubdtype(dtype, np.integer):
            feeds[vi.name] = rng.integers(0, 100, size=shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[vi.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds
