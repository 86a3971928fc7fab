"""The ops of the ``aic_core`` dialect: one program per core of the chip.

A module at this level holds:

- ``aic_core.ddr_tensor @name`` (module level): a tensor in DDR: a model input or
  output (``io_name``), a constant (``value``), an intermediate, or an ``alias`` of
  another DDR tensor with another shape (a reshape costs no data movement);
  ``offset`` is its DDR address once ``plan-memory`` ran.
- ``aic_core.semaphore @name``: a counter that tasks signal and wait on.
- ``aic_core.program {core = i}``: core i's program, run in order: ``task``, ``signal``,
  ``wait``.
- ``aic_core.task``: one aic_graph op's share of work on one core, done in ``tiles``
  pieces (ols splitting and working-set tiling): the body runs once per tile ``t``;
  every ``dma_load``/``dma_store`` block starts at ``offsets + t * tile_steps``, so a
  split is an attribute, never an unrolled copy.
- ``aic_core.dma_load`` (DDR -> VTCM), ``aic_core.dma_store`` (VTCM -> DDR): the DMA
  engine; ``multicast_cores`` marks a load that one DDR read delivers to several cores;
  ``on_chip`` marks a store and the loads of the same core that read it back which
  ``keep-on-chip`` keeps in the core's VTCM between the tasks (no DDR traffic; the
  reference semantics still move the data through DDR, with the same result);
  ``resident = array<i64: offset, bytes>`` is the VTCM region reserved for it.
- ``aic_core.compute``: work on the matrix or vector unit; its region holds the
  aic_graph op(s) applied to the VTCM tiles and ends in ``aic_core.yield``.
- ``func.func @main_graph`` keeps the model's signature; its body is one
  ``aic_core.launch`` that writes the inputs to DDR, runs every program and reads the
  outputs.

VTCM placement: ``vtcm_offset`` on every op that produces a VTCM buffer (dma_load,
compute), filled by ``plan-memory``; ``buffers`` (1, or 2 when ols double-buffers)
says how many copies rotate across tiles.
"""

from __future__ import annotations

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    FlatSymbolRefAttr,
    IntegerAttr,
    StringAttr,
    SymbolNameConstraint,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import IsTerminator, NoTerminator, SymbolOpInterface
from xdsl.utils.exceptions import VerifyException

from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.dialects.property_access import TypedProperties

DDR_KINDS = ("input", "output", "constant", "intermediate", "alias")
UNITS = ("matrix", "vector")


class AicCoreOp(TypedProperties, IRDLOperation):
    """Base of aic_core ops: typed property access."""


@irdl_op_definition
class DDRTensorOp(AicCoreOp):
    name = "aic_core.ddr_tensor"
    sym_name = prop_def(SymbolNameConstraint())
    type = prop_def(TensorType)
    kind = prop_def(StringAttr)
    io_name = opt_prop_def(StringAttr)
    value = opt_prop_def(Attribute)  # #qaicc.blob, or an array [elements, scales] for MXFP6
    alias = opt_prop_def(FlatSymbolRefAttr)
    offset = opt_prop_def(IntegerAttr)
    traits = traits_def(SymbolOpInterface())

    def verify_(self) -> None:
        kind = self.kind.data
        if kind not in DDR_KINDS:
            raise VerifyException(f"aic_core.ddr_tensor @{self.sym_name.data}: unknown kind '{kind}'")
        if kind == "alias" and self.alias is None:
            raise VerifyException(f"aic_core.ddr_tensor @{self.sym_name.data}: an alias needs 'alias'")
        if kind == "constant" and self.value is None:
            raise VerifyException(f"aic_core.ddr_tensor @{self.sym_name.data}: a constant needs 'value'")


@irdl_op_definition
class SemaphoreOp(AicCoreOp):
    name = "aic_core.semaphore"
    sym_name = prop_def(SymbolNameConstraint())
    traits = traits_def(SymbolOpInterface())


@irdl_op_definition
class ProgramOp(AicCoreOp):
    name = "aic_core.program"
    core = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())


@irdl_op_definition
class TaskOp(AicCoreOp):
    """One op's share on one core. ``op_index`` numbers the aic_graph op (tasks of the
    same op on several cores share it); ``tiles`` pieces; ``ols`` of them in flight."""

    name = "aic_core.task"
    op_name = prop_def(StringAttr)
    op_index = prop_def(IntegerAttr)
    unit = prop_def(StringAttr)
    tiles = prop_def(IntegerAttr)
    ols = opt_prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def verify_(self) -> None:
        if self.unit.data not in UNITS:
            raise VerifyException(f"aic_core.task: unit must be one of {UNITS}")
        if self.tiles.value.data < 1:
            raise VerifyException("aic_core.task: tiles must be at least 1")


@irdl_op_definition
class DMALoadOp(AicCoreOp):
    """DDR -> VTCM. With ``in_ddr``, the block stays where it lies in DDR and the compute
    reads only what it needs from it by indexed DMA (an embedding table read by a
    gather): it takes no VTCM, and the bytes moved are those the compute produces."""

    name = "aic_core.dma_load"
    source = prop_def(FlatSymbolRefAttr)
    offsets = prop_def(DenseArrayBase)
    tile_steps = prop_def(DenseArrayBase)
    multicast_cores = opt_prop_def(DenseArrayBase)
    vtcm_offset = opt_prop_def(IntegerAttr)
    buffers = opt_prop_def(IntegerAttr)
    in_ddr = opt_prop_def(UnitAttr)
    on_chip = opt_prop_def(UnitAttr)
    resident = opt_prop_def(DenseArrayBase)
    output = result_def(TensorType)

    @property
    def vtcm_bytes(self) -> int:
        """VTCM bytes of one copy of the loaded block."""
        return 0 if self.in_ddr is not None else tensor_bytes(self.output.type)

    @property
    def transfer_bytes(self) -> int:
        """DDR bytes this load moves per tile (none when kept on chip)."""
        if self.on_chip is not None:
            return 0
        if self.in_ddr is None:
            return tensor_bytes(self.output.type)
        return sum(tensor_bytes(r.type) for use in self.output.uses for r in use.operation.results)


@irdl_op_definition
class DMAStoreOp(AicCoreOp):
    name = "aic_core.dma_store"
    value = operand_def(TensorType)
    target = prop_def(FlatSymbolRefAttr)
    offsets = prop_def(DenseArrayBase)
    tile_steps = prop_def(DenseArrayBase)
    on_chip = opt_prop_def(UnitAttr)
    resident = opt_prop_def(DenseArrayBase)

    @property
    def transfer_bytes(self) -> int:
        """DDR bytes this store moves per tile (none when kept on chip)."""
        return 0 if self.on_chip is not None else tensor_bytes(self.value.type)


@irdl_op_definition
class ComputeOp(AicCoreOp):
    name = "aic_core.compute"
    inputs = var_operand_def(TensorType)
    unit = prop_def(StringAttr)
    vtcm_offset = opt_prop_def(IntegerAttr)
    buffers = opt_prop_def(IntegerAttr)
    outputs = var_result_def(TensorType)
    body = region_def("single_block")


@irdl_op_definition
class YieldOp(AicCoreOp):
    name = "aic_core.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator())


@irdl_op_definition
class SignalOp(AicCoreOp):
    name = "aic_core.signal"
    semaphore = prop_def(FlatSymbolRefAttr)


@irdl_op_definition
class WaitOp(AicCoreOp):
    name = "aic_core.wait"
    semaphore = prop_def(FlatSymbolRefAttr)
    count = prop_def(IntegerAttr)


@irdl_op_definition
class LaunchOp(AicCoreOp):
    """Write the inputs to their DDR tensors, run every program, read the outputs."""

    name = "aic_core.launch"
    args = var_operand_def()
    inputs = prop_def(ArrayAttr[FlatSymbolRefAttr])
    outputs = prop_def(ArrayAttr[FlatSymbolRefAttr])
    results_ = var_result_def()


ALL_OPS = (
    DDRTensorOp, SemaphoreOp, ProgramOp, TaskOp, DMALoadOp, DMAStoreOp, ComputeOp,
    YieldOp, SignalOp, WaitOp, LaunchOp,
)
