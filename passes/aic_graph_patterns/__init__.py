"""Rewrite patterns on the ``aic_graph`` dialect, shared by the aic-graph passes.

- ``matching``: reading constants (with a tolerance), flattening products, building constants.
- ``conv_fusion``: per-channel scale / shift (BatchNormalization, bias) and activations into conv.
- ``matmul_fusion``: bias and activation into matmul.
- ``activations``: decomposed GELU (erf and tanh forms) and SiLU.
- ``normalization``: decomposed layer normalization (with scale / bias folding) and softmax.
- ``float16``: float16 constants (clipped, converted once per blob) and results.
- ``mxfp6``: matmul weights as MXFP6 constants with a dequantize.
"""
