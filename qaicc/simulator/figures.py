"""The simulator's own figures of a target: efficiencies and overheads, not published.

They live in the target's JSON file, beside the published figures, in a ``simulator``
section (``qaicc/hardware/targets/*.json``), with their source in ``sources``::

    "simulator": {"ddr_efficiency": 0.8, "task_overhead_seconds": 2e-6, ...}

``HardwareModel`` keeps the published and derived figures; this module reads the
section of the same file. A target without the section (a made-up target in a test)
gets the ideal machine: every efficiency 1, every overhead 0.

- ``ddr_efficiency``: the share of the DDR bandwidth that concurrent DMA streams reach
  together (refresh, bank conflicts, page misses).
- ``matrix_efficiency`` / ``vector_efficiency``: the share of the peak rate that a
  compute kernel reaches on the matrix / vector units (feeding the array, tails).
- ``task_overhead_seconds``: the fixed cost of starting a task on a core (instruction
  fetch, kernel setup).
- ``dma_setup_seconds``: the fixed cost of one DMA transfer (descriptor, first bytes).
- ``semaphore_latency_seconds``: from a signal on one core to the wait it releases on
  another.
- ``dma_engine_bandwidth_bytes_per_s``: the most one DMA engine moves (0: no limit
  below the DDR's).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from qaicc.errors import QaiccError
from qaicc.hardware.model import TARGETS_DIR, HardwareModel

SECTION = "simulator"


@dataclass(frozen=True)
class SimulatorFigures:
    ddr_efficiency: float = 1.0
    matrix_efficiency: float = 1.0
    vector_efficiency: float = 1.0
    task_overhead_seconds: float = 0.0
    dma_setup_seconds: float = 0.0
    semaphore_latency_seconds: float = 0.0
    dma_engine_bandwidth_bytes_per_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def check(self, where: str) -> SimulatorFigures:
        for name in ("ddr_efficiency", "matrix_efficiency", "vector_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise QaiccError(f"{where}: simulator figure {name} must be in (0, 1], is {value}")
        for name in ("task_overhead_seconds", "dma_setup_seconds", "semaphore_latency_seconds",
                     "dma_engine_bandwidth_bytes_per_s"):
            if getattr(self, name) < 0:
                raise QaiccError(f"{where}: simulator figure {name} must not be negative")
        return self


def _section(data: dict, where: str) -> SimulatorFigures:
    section = data.get(SECTION, {})
    if not isinstance(section, dict):
        raise QaiccError(f"{where}: the '{SECTION}' section must be an object")
    known = {f.name for f in fields(SimulatorFigures)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise QaiccError(f"{where}: unknown simulator figure(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return SimulatorFigures(**{k: float(v) for k, v in section.items()}).check(where)


def _from_file(path: str) -> SimulatorFigures:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise QaiccError(f"{path}: not a readable hardware description ({error})") from None
    return _section(data, path)


def target_file(hw: HardwareModel) -> Path | None:
    """The built-in JSON file describing ``hw`` (None for a target read from elsewhere)."""
    for path in sorted(TARGETS_DIR.glob("*.json")):
        try:
            if json.loads(path.read_text()).get("name") == hw.name:
                return path
        except (OSError, json.JSONDecodeError):
            continue
    return None


def simulator_figures(hw: HardwareModel, source: str | Path | None = None) -> SimulatorFigures:
    """The figures of ``hw``: from ``source`` (the target's JSON file) when given, else
    from the built-in file of that name; the ideal machine when there is none."""
    path = Path(source) if source is not None and str(source).endswith(".json") else target_file(hw)
    if path is None:
        return SimulatorFigures()
    return _from_file(str(path))
