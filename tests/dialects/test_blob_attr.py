"""#qaicc.blob: printing, parsing, elision and equality."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType, bf16, f32, i64

from qaicc.dialects.qaicc_attrs import Blob, DenseBlobAttr, elide_threshold
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.printing import print_module
from xdsl.parser import Parser
from xdsl.printer import Printer
import io


def _text(attr, threshold=None) -> str:
    out = io.StringIO()
    token = elide_threshold.set(threshold)
    try:
        Printer(stream=out).print_attribute(attr)
    finally:
        elide_threshold.reset(token)
    return out.getvalue()


def _parse(text: str) -> DenseBlobAttr:
    return Parser(make_context(), text).parse_attribute()


@pytest.mark.parametrize("array,element", [
    (np.array([1, 128, 768], np.int64), i64),
    (np.array([[0.1, -2.5], [np.float32(1e-7), 3]], np.float32), f32),
    (np.array([np.nan, np.inf], np.float32), f32),
    (np.array([1.5, -2], ml_dtypes.bfloat16), bf16),
    (np.arange(100, dtype=np.float32), f32),
])
def test_print_parse_round_trip(array, element):
    attr = DenseBlobAttr.from_array(array, "c", TensorType(element, array.shape))
    parsed = _parse(_text(attr))
    assert parsed.to_numpy().dtype == array.dtype
    np.testing.assert_array_equal(parsed.to_numpy(), array)
    assert _text(parsed) == _text(attr)


def test_small_values_are_readable():
    attr = DenseBlobAttr.from_array(np.array([1, 128, 768], np.int64), "shape", TensorType(i64, (3,)))
    assert _text(attr) == '#qaicc.blob<"shape" : tensor<3xi64> = [1, 128, 768]>'


def test_large_blobs_are_elided_and_parse_without_data():
    attr = DenseBlobAttr.from_array(np.zeros((64, 64), np.float32), "w", TensorType(f32, (64, 64)))
    text = _text(attr, threshold=16)
    assert text == '#qaicc.blob<"w" : tensor<64x64xf32>>'
    parsed = _parse(text)
    assert not parsed.blob.has_data
    with pytest.raises(QaiccError, match="elided"):
        parsed.to_numpy()


def test_equality_by_value_only_for_small_blobs():
    small = np.array([1, 2], np.int64)
    a = DenseBlobAttr.from_array(small.copy(), "a", TensorType(i64, (2,)))
    b = DenseBlobAttr.from_array(small.copy(), "a", TensorType(i64, (2,)))
    assert a == b and hash(a) == hash(b)
    big = np.zeros(1000, np.float32)
    c = DenseBlobAttr.from_array(big.copy(), "c", TensorType(f32, (1000,)))
    d = DenseBlobAttr.from_array(big.copy(), "c", TensorType(f32, (1000,)))
    assert c != d and c == c


def test_lazy_blob_loads_once():
    calls = []

    def load():
        calls.append(1)
        return np.ones(32, np.float32)

    blob = Blob(loader=load, dtype=np.float32, shape=(32,))
    assert blob.nbytes == 128 and not blob.is_loaded
    blob.array, blob.array
    assert calls == [1]
