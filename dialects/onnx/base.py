"""The base class of every ``onnx`` dialect op, and its schema verifier.

Each generated op class states its ONNX operator type, the opset versions it covers and
its ``OpSignature``. ``OnnxOp.verify_`` checks what IRDL cannot say directly: the
schema's type constraints (a type variable binds one type across all values that use
it, and that type must be one the schema allows) and the required attributes.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import IRDLOperation
from xdsl.utils.exceptions import VerifyException

from qaicc.dialects.onnx.signature import Formal, OpSignature
from qaicc.dialects.onnx.type_strings import onnx_type_string


class OnnxOp(IRDLOperation):
    """An op of the ``onnx`` dialect: one ONNX node."""

    ONNX_SIGNATURE: ClassVar[OpSignature]

    @property
    def node_name(self) -> str | None:
        attr = self.attributes.get("onnx_node_name")
        return attr.data if attr is not None else None  # type: ignore[union-attr]

    def onnx_attribute(self, name: str) -> Attribute | None:
        """The value of an ONNX attribute as the model states it (no defaults)."""
        formal = self.ONNX_SIGNATURE.attribute(name)
        if formal is None:
            return None
        return self.properties.get(formal.name)

    def formal_values(self, formal: Formal, is_input: bool) -> tuple[SSAValue, ...]:
        value = getattr(self, formal.field)
        if value is None:
            return ()
        if isinstance(value, SSAValue):
            return (value,)
        return tuple(value)

    def verify_(self) -> None:
        signature = self.ONNX_SIGNATURE
        bound: dict[str, str] = {}
        for is_input, formals in ((True, signature.inputs), (False, signature.outputs)):
            for formal in formals:
                for value in self.formal_values(formal, is_input):
                    self._verify_value_type(formal, value, bound, signature)
        for formal in signature.attributes:
            if formal.required and formal.kind.value != "graph" and formal.name not in self.properties:
                raise VerifyException(
                    f"{self.name}: required attribute '{formal.name}' is missing"
                )

    def _verify_value_type(
        self, formal: Formal, value: SSAValue, bound: dict[str, str], signature: OpSignature
    ) -> None:
        type_str = onnx_type_string(value.type)
        if type_str is None:  # element type not known yet
            return
        allowed = signature.type_constraints.get(formal.type)
        if allowed is None:  # a concrete type string
            if type_str != formal.type:
                raise VerifyException(
                    f"{self.name}: '{formal.name}' must be {formal.type}, got {type_str}"
                )
            return
        if type_str not in allowed:
            raise VerifyException(
                f"{self.name}: '{formal.name}' has type {type_str}, which type "
                f"constraint {formal.type} does not allow"
            )
        if not formal.homogeneous:
            return
        previous = bound.setdefault(formal.type, type_str)
        if previous != type_str:
            raise VerifyException(
                f"{self.name}: type constraint {formal.type} is bound to {previous}, "
                f"but '{formal.name}' has type {type_str}"
            )
