"""Models with external data, including over 2 GB, import without reading the weights."""

from __future__ import annotations

import time

import numpy as np
import onnx
from onnx import TensorProto, helper

from qaicc.onnx_io.importer import import_model
from qaicc.testing.models import make_model


def test_external_data_is_memory_mapped(tmp_path):
    weight = onnx.numpy_helper.from_array(np.arange(4096, dtype=np.float32).reshape(64, 64), "w")
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])], [weight])
    path = tmp_path / "model.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    module = import_model(path)
    blob = next(op.properties["value"].blob for op in module.walk() if "value" in op.properties)
    assert not blob.is_loaded
    array = blob.array
    assert isinstance(array, np.memmap)
    np.testing.assert_array_equal(array, np.arange(4096, dtype=np.float32).reshape(64, 64))


def test_model_over_2gb_imports_without_loading(tmp_path):
    """A 2.2 GB weight in a sparse data file: import is instant and memory stays flat."""
    count = 550_000_000  # float32: 2.2 GB
    data_file = tmp_path / "big.bin"
    with open(data_file, "wb") as f:  # a sparse file: no disk space, reads as zeros
        f.seek(count * 4 - 4)
        f.write(np.float32(7.0).tobytes())
    tensor = TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[count])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "big.bin"), ("offset", "0"), ("length", str(count * 4))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    model = make_model([helper.make_node("Identity", ["big"], ["y"])], [],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])], [tensor])
    path = tmp_path / "big.onnx"
    onnx.save(model, path)
    start = time.perf_counter()
    module = import_model(path)
    assert time.perf_counter() - start < 5
    blob = next(op.properties["value"].blob for op in module.walk() if "value" in op.properties)
    assert not blob.is_loaded
    assert blob.nbytes == count * 4
    assert blob.array[-1] == 7.0 and blob.array[0] == 0.0
