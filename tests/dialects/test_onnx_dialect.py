"""The onnx dialect covers every ai.onnx operator and verifies schema type constraints."""

from __future__ import annotations

import onnx.defs
import pytest
from xdsl.dialects.builtin import TensorType, f32, i64
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.test_value import create_ssa_value

from qaicc.dialects.onnx import ONNX, op_class, op_types
from qaicc.dialects.onnx.ops import AddOp, CastOp, SplitOp
from qaicc.tools.gen_onnx_dialect import main as generate


def test_generated_ops_are_up_to_date():
    assert generate(["--check"]) == 0


def test_every_ai_onnx_operator_has_an_op():
    schemas = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""}
    assert set(op_types()) == schemas
    assert len(schemas) > 180
    for name in schemas:
        assert op_class(name, onnx.defs.onnx_opset_version()) is not None


def test_op_classes_follow_the_opset():
    assert op_class("Split", 18) is SplitOp
    assert op_class("Split", 13).name == "onnx.SplitV13"
    assert op_class("Attention", 17) is None  # introduced later
    assert ONNX.name == "onnx"


def _tensor(element, shape=(4,)):
    return create_ssa_value(TensorType(element, shape))


def test_type_variables_bind_one_type():
    good = AddOp.build(operands=[_tensor(f32), _tensor(f32)], result_types=[TensorType(f32, (4,))])
    good.verify()
    bad = AddOp.build(operands=[_tensor(f32), _tensor(i64)], result_types=[TensorType(f32, (4,))])
    with pytest.raises(VerifyException, match="type constraint T is bound to tensor\\(float\\)"):
        bad.verify()


def test_required_attributes_are_checked():
    from xdsl.dialects.builtin import IntegerAttr

    cast = CastOp.build(operands=[_tensor(f32)], result_types=[TensorType(i64, (4,))])
    with pytest.raises(VerifyException, match="property 'to' expected"):
        cast.verify()
    CastOp.build(operands=[_tensor(f32)], result_types=[TensorType(i64, (4,))],
                 properties={"to": IntegerAttr(7, i64)}).verify()
