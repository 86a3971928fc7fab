"""ONNX <-> qaicc IR: ``import_model`` and ``export_module`` (see importer.py and exporter.py)."""

from qaicc.onnx_io.exporter import export_module, save_module
from qaicc.onnx_io.importer import import_model

__all__ = ["export_module", "import_model", "save_module"]
