"""The ``qpc`` dialect: the program container of a compiled model (see ops.py).

``convert-aic-core-to-qpc`` produces it, ``emit-qpc`` writes it to
``<dir>/programqpc.bin`` (format: ``docs/qpc-format.md``).
"""

from xdsl.ir import Dialect

from qaicc.dialects.qpc.ops import ALL_OPS

QPC = Dialect("qpc", list(ALL_OPS), [])

__all__ = ["QPC"]
