"""The program container file ``programqpc.bin`` (format: ``docs/qpc-format.md``).

- ``container``: the binary container: header, section table, checksums; atomic
  writing; checked reading.
- ``encoding``: the sections (meta JSON, kernels IR text, instruction streams,
  constant segment) encoded from a ``qpc.container``.
- ``loader``: ``load_qpc(dir)`` and the executable aic-core module a QPC encodes.
"""

from qaicc.qpc.loader import LoadedQPC, load_qpc, rebuild_aic_core

__all__ = ["LoadedQPC", "load_qpc", "rebuild_aic_core"]
