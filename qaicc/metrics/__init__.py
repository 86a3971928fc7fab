"""Performance figures of a compiled module, computed from the IR and the hardware model."""

from qaicc.metrics.static_metrics import CoreMetrics, StaticMetrics, static_metrics

__all__ = ["CoreMetrics", "StaticMetrics", "static_metrics"]
