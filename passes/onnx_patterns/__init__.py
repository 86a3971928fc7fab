"""Rewrite patterns on the ``onnx`` dialect, shared by canonicalize and later passes.

- ``constant_folding``: evaluate ops whose operands are all constants (with the
  reference semantics), and Shape/Size of statically shaped values.
- ``identity_removal``: Identity, and Dropout in inference mode, forward their input.
- ``cse``: common-subexpression elimination of pure ops (node names do not count).
- ``constants``: building and reading ``onnx.Constant`` ops.
"""
