"""Reference semantics: run qaicc IR on numpy.

``run_module(module, inputs)`` executes ``@main_graph`` of any module whose ops have
semantics registered (see ``registry.py``): today the ``onnx`` dialect (``onnx_ops.py``);
later dialects register their own ops the same way. Any IR can be run before and after
any pass and the results compared.
"""

from qaicc.semantics.registry import register_dialect, register_op
from qaicc.semantics.runner import Runner, run_module

__all__ = ["Runner", "register_dialect", "register_op", "run_module"]
