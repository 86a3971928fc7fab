"""qaicc: an ONNX compiler for Qualcomm Cloud AI 100 class accelerators, built on xDSL.

Entry points for scripts:

- ``qaicc.onnx_io.import_model(path_or_proto)`` -> an xDSL module of the ``onnx`` dialect
- ``qaicc.onnx_io.export_module(module)`` -> an ``onnx.ModelProto``
- ``qaicc.ir.context.make_context()`` -> an xDSL Context with every qaicc dialect
- ``qaicc.passes.ALL_PASSES`` -> pass name -> ModulePass class
"""

__version__ = "0.1.0"
