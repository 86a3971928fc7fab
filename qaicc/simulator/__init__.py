"""The simulator behind ``qaicc-run``: a QPC run on numpy and timed on a model of the chip.

- ``program``: an aic-core module reduced to what timing needs (bytes, seconds, syncs).
- ``timing``: the discrete-event model of the hardware (DMA engines, matrix and vector
  units, shared DDR, multicast, semaphores, instances).
- ``api``: ``simulate(qpc_dir, instances=..., inferences=...) -> SimulationResult``.
- ``runner``: the functional run (inputs from raw files or random, outputs written).
- ``profiling``: per-op statistics, a Chrome trace (Perfetto), the latency file.
- ``figures``: the simulator's estimated figures, read from the target's JSON file.
"""

from qaicc.simulator.api import (
    CoreTiming,
    InferenceTiming,
    OpTiming,
    SimulationResult,
    check_instances,
    simulate,
    simulate_module,
    simulate_timing,
    stats_line,
)
from qaicc.simulator.figures import SimulatorFigures, simulator_figures

__all__ = [
    "CoreTiming", "InferenceTiming", "OpTiming", "SimulationResult", "SimulatorFigures", "check_instances",
    "simulate", "simulate_module", "simulate_timing", "simulator_figures", "stats_line",
]
