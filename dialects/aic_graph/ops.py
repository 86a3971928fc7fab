"""The ops of the ``aic_graph`` dialect: the device's operator set on whole, statically
shaped tensors.

Every op is Pure, takes and returns ranked static tensors, and reports its ``work()``
(FLOPs, bytes in, bytes out) for the cost model. Structural parameters (strides, axes,
permutations, ...) are properties; shapes are those of the result types. Ops that can
fuse an activation (conv, matmul) carry ``activation`` ("none", "relu", "clip",
"sigmoid", "gelu", "gelu_tanh", "silu") with ``activation_min`` / ``activation_max``
for clip. Reference semantics: ``qaicc/semantics/aic_graph_ops.py``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    BoolAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)

from xdsl.irdl import (

    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from qaicc.dialects.property_access import TypedProperties
from qaicc.dialects.aic_graph.work import Work, element_count, tensor_bytes
from qaicc.dialects.qaicc_attrs import DenseBlobAttr

ACTIVATIONS = ("none", "relu", "clip", "sigmoid", "gelu", "gelu_tanh", "silu", "tanh")


class AicGraphOp(TypedProperties, IRDLOperation):
    """Base of every aic_graph op: Pure, static shapes, a default work model."""

    FLOPS_PER_ELEMENT: ClassVar[int] = 0

    traits = traits_def(Pure())

    def work(self) -> Work:
        bytes_in = sum(tensor_bytes(v.type) for v in self.operands)
        bytes_out = sum(tensor_bytes(r.type) for r in self.results)
        flops = self.FLOPS_PER_ELEMENT * sum(element_count(r.type) for r in self.results)
        return Work(flops, bytes_in, bytes_out)

    def verify_(self) -> None:
        for value in (*self.operands, *self.results):
            if not isinstance(value.type, TensorType):
                raise VerifyException(f"{self.name}: every value must be a ranked tensor, got {value.type}")
            if any(d < 0 for d in value.type.get_shape()):
                raise VerifyException(f"{self.name}: every shape must be static, got {value.type}")
        activation = self.properties.get("activation")
        if activation is not None and activation.data not in ACTIVATIONS:
            raise VerifyException(f"{self.name}: unknown activation '{activation.data}'")


def _shape(value) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


@irdl_op_definition
class ConstantOp(AicGraphOp):
    name = "aic_graph.constant"
    value = prop_def(DenseBlobAttr)
    output = result_def()

    def work(self) -> Work:
        return Work(0, 0, 0)


@irdl_op_definition
class MXFP6ConstantOp(AicGraphOp):
    """A weight in MXFP6: ``elements`` (float6 values, the weight's shape with the
    reduction axis padded to a multiple of 32) and ``scales`` (E8M0, one per block)."""

    name = "aic_graph.mxfp6_constant"
    elements = prop_def(DenseBlobAttr)
    scales = prop_def(DenseBlobAttr)
    axis = prop_def(IntegerAttr)
    output = result_def()

    def work(self) -> Work:
        return Work(0, 0, 0)


@irdl_op_definition
class DequantizeOp(AicGraphOp):
    """MXFP6 weight -> float16 (or float32) for compute."""

    name = "aic_graph.dequantize"
    FLOPS_PER_ELEMENT: ClassVar[int] = 1
    input = operand_def()
    output = result_def()


@irdl_op_definition
class ConvOp(AicGraphOp):
    """N-D convolution (1-D and 2-D), grouped/depthwise, fused bias and activation."""

    name = "aic_graph.conv"
    input = operand_def()
    weight = operand_def()
    bias = opt_operand_def()
    strides = prop_def(DenseArrayBase)
    pads = prop_def(DenseArrayBase)  # begins then ends, as ONNX
    dilations = prop_def(DenseArrayBase)
    group = prop_def(IntegerAttr)
    activation = opt_prop_def(StringAttr)
    activation_min = opt_prop_def(FloatAttr)
    activation_max = opt_prop_def(FloatAttr)

    def work(self) -> Work:
        base = super().work()
        weight = _shape(self.weight)
        macs = element_count(self.output.type) * int(np.prod(weight[1:]))
        return Work(2 * macs, base.bytes_in, base.bytes_out)

    output = result_def()


@irdl_op_definition
class MatMulOp(AicGraphOp):
    """Batched matmul ``a @ b`` (numpy broadcasting of batch dims), optional transposes
    of the last two dims, ``alpha`` scale, fused bias (broadcast) and activation."""

    name = "aic_graph.matmul"
    a = operand_def()
    b = operand_def()
    bias = opt_operand_def()
    transpose_a = opt_prop_def(BoolAttr)
    transpose_b = opt_prop_def(BoolAttr)
    alpha = opt_prop_def(FloatAttr)
    activation = opt_prop_def(StringAttr)
    activation_min = opt_prop_def(FloatAttr)
    activation_max = opt_prop_def(FloatAttr)
    output = result_def()

    def work(self) -> Work:
        base = super().work()
        a = _shape(self.a)
        k = a[-2] if self.transpose_a is not None and self.transpose_a.value.data else a[-1]
        return Work(2 * element_count(self.output.type) * k, base.bytes_in, base.bytes_out)


@irdl_op_definition
class UnaryOp(AicGraphOp):
    """Elementwise ``kind``: relu, sigmoid, tanh, exp, log, sqrt, reciprocal, neg, abs,
    erf, silu, clip (alpha=min, beta=max), leaky_relu (alpha), elu (alpha), softplus,
    hard_sigmoid (alpha, beta), floor, ceil, round, sign, sin, cos, not, identity."""

    name = "aic_graph.unary"
    FLOPS_PER_ELEMENT: ClassVar[int] = 1
    input = operand_def()
    kind = prop_def(StringAttr)
    alpha = opt_prop_def(FloatAttr)
    beta = opt_prop_def(FloatAttr)
    output = result_def()


@irdl_op_definition
class BinaryOp(AicGraphOp):
    """Elementwise ``kind`` with numpy broadcasting: add, sub, mul, div, pow, max, min,
    mod, fmod, and, or, xor, equal, less, less_equal, greater, greater_equal."""

    name = "aic_graph.binary"
    FLOPS_PER_ELEMENT: ClassVar[int] = 1
    lhs = operand_def()
    rhs = operand_def()
    kind = prop_def(StringAttr)
    output = result_def()


@irdl_op_definition
class SelectOp(AicGraphOp):
    """``where(condition, on_true, on_false)`` with broadcasting."""

    name = "aic_graph.select"
    FLOPS_PER_ELEMENT: ClassVar[int] = 1
    condition = operand_def()
    on_true = operand_def()
    on_false = operand_def()
    output = result_def()


@irdl_op_definition
class ReduceOp(AicGraphOp):
    """``kind``: sum, mean, max, min, prod, sum_square, l1, l2, log_sum_exp over ``axes``."""

    name = "aic_graph.reduce"
    input = operand_def()
    kind = prop_def(StringAttr)
    axes = prop_def(DenseArrayBase)
    keepdims = prop_def(BoolAttr)
    output = result_def()

    def work(self) -> Work:
        base = super().work()
        return Work(element_count(self.input.type), base.bytes_in, base.bytes_out)


@irdl_op_definition
class ArgReduceOp(AicGraphOp):
    """ArgMax / ArgMin (``kind`` max|min) along ``axis``; int64 indices."""

    name = "aic_graph.arg_reduce"
    input = operand_def()
    kind = prop_def(StringAttr)
    axis = prop_def(IntegerAttr)
    keepdims = prop_def(BoolAttr)
    select_last_index = opt_prop_def(BoolAttr)
    output = result_def()


@irdl_op_definition
class SoftmaxOp(AicGraphOp):
    name = "aic_graph.softmax"
    FLOPS_PER_ELEMENT: ClassVar[int] = 5
    input = operand_def()
    axis = prop_def(IntegerAttr)
    log = opt_prop_def(BoolAttr)
    output = result_def()


@irdl_op_definition
class LayerNormOp(AicGraphOp):
    """Normalize over the axes from ``axis`` to the last, then scale and bias."""

    name = "aic_graph.layer_norm"
    FLOPS_PER_ELEMENT: ClassVar[int] = 8
    input = operand_def()
    scale = operand_def()
    bias = opt_operand_def()
    axis = prop_def(IntegerAttr)
    epsilon = prop_def(FloatAttr)
    output = result_def()


@irdl_op_definition
class InstanceNormOp(AicGraphOp):
    """Normalize each (sample, channel) over the spatial axes; per-channel scale, bias."""

    name = "aic_graph.instance_norm"
    FLOPS_PER_ELEMENT: ClassVar[int] = 8
    input = operand_def()
    scale = operand_def()
    bias = operand_def()
    epsilon = prop_def(FloatAttr)
    output = result_def()


@irdl_op_definition
class GeluOp(AicGraphOp):
    name = "aic_graph.gelu"
    FLOPS_PER_ELEMENT: ClassVar[int] = 8
    input = operand_def()
    approximate = prop_def(StringAttr)  # "none" (erf) or "tanh"
    output = result_def()


@irdl_op_definition
class PoolOp(AicGraphOp):
    """Max or average pooling (``kind``) over the spatial axes (N, C, spatial...)."""

    name = "aic_graph.pool"
    input = operand_def()
    kind = prop_def(StringAttr)
    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    pads = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)
    ceil_mode = opt_prop_def(BoolAttr)
    count_include_pad = opt_prop_def(BoolAttr)
    output = result_def()

    def work(self) -> Work:
        base = super().work()
        window = int(np.prod(self.int_list("kernel")))
        return Work(element_count(self.output.type) * window, base.bytes_in, base.bytes_out)


@irdl_op_definition
class GatherOp(AicGraphOp):
    """Gather (embedding lookup) along ``axis``; negative indices count from the end."""

    name = "aic_graph.gather"
    data = operand_def()
    indices = operand_def()
    axis = prop_def(IntegerAttr)
    output = result_def()


@irdl_op_definition
class GatherNDOp(AicGraphOp):
    name = "aic_graph.gather_nd"
    data = operand_def()
    indices = operand_def()
    batch_dims = prop_def(IntegerAttr)
    output = result_def()


@irdl_op_definition
class ConcatOp(AicGraphOp):
    name = "aic_graph.concat"
    inputs = var_operand_def()
    axis = prop_def(IntegerAttr)
    output = result_def()


@irdl_op_definition
class SliceOp(AicGraphOp):
    """Static slice: ``starts``, ``ends``, ``steps`` per axis in ``axes`` (clamped as ONNX)."""

    name = "aic_graph.slice"
    input = operand_def()
    starts = prop_def(DenseArrayBase)
    ends = prop_def(DenseArrayBase)
    axes = prop_def(DenseArrayBase)
    steps = prop_def(DenseArrayBase)
    output = result_def()


@irdl_op_definition
class SplitOp(AicGraphOp):
    name = "aic_graph.split"
    input = operand_def()
    axis = prop_def(IntegerAttr)
    sizes = prop_def(DenseArrayBase)
    outputs = var_result_def()


@irdl_op_definition
class PadOp(AicGraphOp):
    """Pad with ``pads`` (begins then ends, negative crops); ``mode`` constant, reflect, edge, wrap."""

    name = "aic_graph.pad"
    input = operand_def()
    pads = prop_def(DenseArrayBase)
    mode = prop_def(StringAttr)
    value = opt_prop_def(FloatAttr)
    output = result_def()


@irdl_op_definition
class ResizeOp(AicGraphOp):
    """Resize to the result shape: ``mode`` nearest or linear (per spatial axis),
    ``coordinate_transformation_mode`` and ``nearest_mode`` as ONNX Resize."""

    name = "aic_graph.resize"
    FLOPS_PER_ELEMENT: ClassVar[int] = 4
    input = operand_def()
    mode = prop_def(StringAttr)
    coordinate_transformation_mode = prop_def(StringAttr)
    nearest_mode = opt_prop_def(StringAttr)
    output = result_def()


@irdl_op_definition
class ReshapeOp(AicGraphOp):
    """Data movement: the result type's shape, same elements in row-major order."""

    name = "aic_graph.reshape"
    input = operand_def()
    output = result_def()

    def verify_(self) -> None:
        super().verify_()
        if element_count(self.input.type) != element_count(self.output.type):
            raise VerifyException(f"aic_graph.reshape: {self.input.type} and {self.output.type} differ in size")


@irdl_op_definition
class TransposeOp(AicGraphOp):
    name = "aic_graph.transpose"
    input = operand_def()
    perm = prop_def(DenseArrayBase)
    output = result_def()


@irdl_op_definition
class ExpandOp(AicGraphOp):
    """Broadcast to the result shape (numpy rules)."""

    name = "aic_graph.expand"
    input = operand_def()
    output = result_def()


@irdl_op_definition
class TileOp(AicGraphOp):
    name = "aic_graph.tile"
    input = operand_def()
    repeats = prop_def(DenseArrayBase)
    output = result_def()


@irdl_op_definition
class CastOp(AicGraphOp):
    """Convert to the result's element type (float -> int truncates toward zero, as ONNX)."""

    name = "aic_graph.cast"
    input = operand_def()
    output = result_def()


ALL_OPS = (
    ConstantOp, MXFP6ConstantOp, DequantizeOp, ConvOp, MatMulOp, UnaryOp, BinaryOp, SelectOp,
    ReduceOp, ArgReduceOp, SoftmaxOp, LayerNormOp, InstanceNormOp, GeluOp, PoolOp, GatherOp,
    GatherNDOp, ConcatOp, SliceOp, SplitOp, PadOp, ResizeOp, ReshapeOp, TransposeOp,
    ExpandOp, TileOp, CastOp,
)

__all__ = [op.__name__ for op in ALL_OPS] + ["ACTIVATIONS", "AicGraphOp", "ALL_OPS"]
