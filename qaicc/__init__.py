"""qaicc: an ONNX compiler for Qualcomm Cloud AI 100 class accelerators, built on xDSL.

Entry points for scripts:

- ``qaicc.onnx_io.import_model(path_or_proto)`` -> an xDSL module of the ``onnx`` dialect
- ``qaicc.onnx_io.export_module(module)`` -> an ``onnx.ModelProto``
- ``qaicc.ir.context.make_context()`` -> an xDSL Context with every qaicc dialect
- ``qaicc.passes.ALL_PASSES`` -> pass name -> ModulePass class
- ``qaicc.compile(model, flags="-convert-to-fp16 ...", **options)`` -> the ``qaicc`` driver's
  compilation (``qaicc.driver``), returning its metrics
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``qaicc.compile(model, flags=..., **options)``: the driver (``qaicc.driver``),
    imported on first use so that ``import qaicc`` stays fast."""
    if name == "compile":
        from qaicc.driver.compile import compile

        return compile
    raise AttributeError(f"module 'qaicc' has no attribute '{name}'")
