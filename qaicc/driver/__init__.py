"""The ``qaicc`` driver: qaic-exec / qaic-compile command lines, and ``qaicc.compile``.

- ``flags``: the table of every documented flag and the command-line parser;
- ``pipeline``: flags -> the pass pipeline (the one place that maps them);
- ``config_files``: ``-custom-IO-list-file`` (YAML) and ``-network-specialization-config`` (JSON);
- ``compile``: ``compile(model, flags=..., **options) -> CompileResult``;
- ``report``: ``-aic-perf-metrics``, ``-aic-perf-warnings``, ``-time-passes``;
- ``run``: the run on the simulator after compiling (without ``-compile-only``).

The command is ``tools/qaicc_main.py`` (console script ``qaicc``).
"""

from qaicc.driver.compile import CompileResult, ProgramResult, RunResult, compile

__all__ = ["CompileResult", "ProgramResult", "RunResult", "compile"]
