"""Optionals in qaicc's value model: an optional holding a value *is* that value (a
tensor or a list for a sequence); an empty optional is ``None``. (onnx's reference
implementation wraps optionals in an extra list; qaicc does not, so values compare
directly with onnxruntime's and the backend tests' outputs.)"""

from __future__ import annotations

import numpy as np

from qaicc.errors import QaiccError
from qaicc.semantics.registry import register_op


@register_op("onnx.Optional")
def optional_kernel(op):
    return lambda args, runner, env: [args[0] if args else None]


@register_op("onnx.OptionalHasElementV15")
@register_op("onnx.OptionalHasElement")
def has_element_kernel(op):
    return lambda args, runner, env: [np.array(bool(args) and args[0] is not None)]


@register_op("onnx.OptionalGetElement")
def get_element_kernel(op):
    def kernel(args, runner, env):
        if args[0] is None:
            raise QaiccError(f"OptionalGetElement '{op.node_name}' of an empty optional")
        return [args[0]]

    return kernel
