"""``qaicc.backend``: a standard ONNX backend (``onnx.backend.base.Backend``).

    import qaicc.backend
    rep = qaicc.backend.prepare(model, level="onnx")
    outputs = rep.run([x, y])

``level`` says how far down the pipeline a model goes before it runs on the reference
semantics: ``"import"`` (the imported onnx dialect as is), ``"onnx"`` (after
``bind-symbols``, ``shape-inference`` and ``canonicalize``), ``"aic-graph"`` (then
``convert-onnx-to-aic-graph`` and ``fuse-aic-graph``), ``"aic-graph-fp16"`` (then
``legalize-fp16``), or ``"qpc"`` (the default: the whole ``qaicc`` pipeline down to
``programqpc.bin``, float32 on one core unless the options ``num_cores``, ``ols``,
``mos``, ``multicast``, ``fp16`` say otherwise; the program is loaded back from the
file and run as the simulator runs it). A model with operators the level cannot lower
raises ``UnsupportedModelError`` listing them. Symbolic dimensions are
bound from the shapes of the inputs of each run (one compilation per distinct set of
input shapes, as a static-shape device needs).
"""

from qaicc.backend.backend import LEVELS, QaiccBackend, QaiccBackendRep

prepare = QaiccBackend.prepare
run_model = QaiccBackend.run_model
run_node = QaiccBackend.run_node
supports_device = QaiccBackend.supports_device

__all__ = ["LEVELS", "QaiccBackend", "QaiccBackendRep", "prepare", "run_model", "run_node", "supports_device"]
