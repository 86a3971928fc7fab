"""Hardware models of the targets (see model.py and targets/*.json)."""

from qaicc.hardware.model import DEFAULT_TARGET, HardwareModel, builtin_targets, load_target

__all__ = ["DEFAULT_TARGET", "HardwareModel", "builtin_targets", "load_target"]
