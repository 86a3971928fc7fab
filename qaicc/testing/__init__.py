"""Helpers to check qaicc against onnxruntime (used by the tests and the report scripts)."""
