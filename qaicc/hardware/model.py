"""The hardware model: every figure of a target, read from one JSON file per target.

``load_target("2.0")`` (qaic-exec's ``-aic-hw-version``), ``load_target("ai100")``,
``load_target("ai100-standard")``, or a path to a JSON file of the same form (tests use a
made-up target). Nothing else in qaicc hard-codes a hardware figure: passes, metrics and
the simulator take a ``HardwareModel``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qaicc.errors import QaiccError

TARGETS_DIR = Path(__file__).resolve().parent / "targets"
DEFAULT_TARGET = "ai100-pro"

_REQUIRED = (
    "name", "cores", "vtcm_bytes", "vtcm_usable_bytes", "l2_bytes", "ddr_bytes",
    "ddr_bandwidth_bytes_per_s", "network_bandwidth_bytes_per_s", "matrix_macs_per_clock",
    "vector_units", "vector_lanes_per_unit", "dma_engines", "clock_hz",
)


@dataclass(frozen=True)
class HardwareModel:
    name: str
    cores: int
    vtcm_bytes: int
    vtcm_usable_bytes: int
    l2_bytes: int
    ddr_bytes: int
    ddr_bandwidth_bytes_per_s: float
    network_bandwidth_bytes_per_s: float
    matrix_macs_per_clock: dict[str, int]
    vector_units: int
    vector_lanes_per_unit: dict[str, int]
    dma_engines: int
    clock_hz: float
    description: str = ""
    hw_versions: tuple[str, ...] = ()
    peak_flops: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def matrix_macs(self, dtype: str) -> int:
        """MACs per clock of one core's matrix unit for ``dtype`` (float32 runs as float16 x2)."""
        if dtype in self.matrix_macs_per_clock:
            return self.matrix_macs_per_clock[dtype]
        return self.matrix_macs_per_clock["float16"] // 2

    def vector_ops_per_clock(self, dtype: str) -> int:
        """Elementwise operations per clock of one core's vector units together."""
        lanes = self.vector_lanes_per_unit.get(dtype, min(self.vector_lanes_per_unit.values()))
        return lanes * self.vector_units

    def seconds(self, cycles: float) -> float:
        return cycles / self.clock_hz


def _from_file(path: Path) -> HardwareModel:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise QaiccError(f"{path}: not a readable hardware description ({error})") from None
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise QaiccError(f"{path}: hardware description lacks {', '.join(missing)}")
    known = set(HardwareModel.__dataclass_fields__)
    values = {k: v for k, v in data.items() if k in known}
    values["hw_versions"] = tuple(values.get("hw_versions", ()))
    return HardwareModel(**values)


@lru_cache(maxsize=None)
def builtin_targets() -> dict[str, HardwareModel]:
    return {model.name: model for model in (_from_file(p) for p in sorted(TARGETS_DIR.glob("*.json")))}


def load_target(name: str | Path | None = None) -> HardwareModel:
    if name is None:
        return builtin_targets()[DEFAULT_TARGET]
    text = str(name)
    if text.endswith(".json") or Path(text).is_file():
        return _from_file(Path(text))
    for model in builtin_targets().values():
        if text == model.name or text in model.hw_versions:
            return model
    known = sorted({v for m in builtin_targets().values() for v in (m.name, *m.hw_versions)})
    raise QaiccError(f"unknown hardware version '{text}'; use one of {', '.join(known)} or a target .json file")
