"""Ops of the ``onnx`` dialect that are not ONNX operators.

``onnx.Yield`` terminates the region of a subgraph (the body of If, Loop and Scan):
its operands are the subgraph's outputs, in order.
"""

from __future__ import annotations

from xdsl.irdl import IRDLOperation, irdl_op_definition, traits_def, var_operand_def
from xdsl.traits import IsTerminator


@irdl_op_definition
class YieldOp(IRDLOperation):
    name = "onnx.Yield"

    outputs = var_operand_def()

    traits = traits_def(IsTerminator())

    def __init__(self, outputs):
        super().__init__(operands=[outputs])
