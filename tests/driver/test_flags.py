"""The qaic-exec command line: the flag table, the parser, the pipeline each flag means."""

from __future__ import annotations

import pytest

from qaicc.driver.flags import (
    BY_NAME,
    FLAGS,
    IMPLEMENTED,
    NOT_SUPPORTED_YET,
    help_text,
    options_to_argv,
    parse_command_line,
)
from qaicc.driver.pipeline import CompileOptions, pipeline_spec
from qaicc.errors import QaiccError
from qaicc.ir.pipeline import build_pipeline
from qaicc.passes import ALL_PASSES

# Every flag the reference documentation names (qaic-exec.md, compile-the-model.txt).
DOCUMENTED = [
    "m", "model", "onnx-define-symbol", "aic-num-cores", "ols", "mos", "multicast-weights", "convert-to-fp16",
    "batchsize", "stats-batchsize", "aic-binary-dir", "aic-hw", "compile-only", "aic-hw-version",
    "aic-profiling-type", "operators-supported", "mxfp6-matmul", "network-specialization-config", "retained-state",
    "custom-IO-list-file", "aic-perf-metrics", "aic-perf-warnings", "time-passes", "execute-nodes-in-fp16",
    "node-precision-info", "aic-enable-depth-first", "aic-depth-first-mem", "size-split-granularity",
    "vtcm-working-set-limit-ratio", "allocator-dealloc-delay", "sdp-cluster-sizes", "use-producer-dma",
    "aic-num-of-instances", "output-node-name", "input-list-file", "write-output-dir", "v", "vvv", "version",
    "dump-profile", "load-profile", "convert-to-quantize", "enable-channelwise", "mdp-load-partition-config",
    "mdp-dump-partition-config", "register-custom-op",
]


def test_every_documented_flag_is_in_the_table():
    assert [name for name in DOCUMENTED if name not in BY_NAME] == []
    for flag in FLAGS:
        assert flag.status in (IMPLEMENTED, NOT_SUPPORTED_YET)
        assert flag.help


def test_the_flags_of_the_issue_are_implemented():
    for name in ("m", "model", "onnx-define-symbol", "aic-num-cores", "ols", "mos", "multicast-weights",
                 "convert-to-fp16", "batchsize", "stats-batchsize", "aic-binary-dir", "aic-hw", "compile-only",
                 "aic-hw-version", "aic-profiling-type", "operators-supported", "mxfp6-matmul",
                 "network-specialization-config", "retained-state", "custom-IO-list-file", "aic-perf-metrics",
                 "aic-perf-warnings", "time-passes", "v", "aic-num-of-instances"):
        assert BY_NAME[name].status == IMPLEMENTED, name


def test_single_dash_equals_and_repeated_flags():
    parsed = parse_command_line([
        "-m=model.onnx", "-onnx-define-symbol=batch_size,1", "-onnx-define-symbol=sequence,128",
        "-convert-to-fp16", "-aic-num-cores=4", "-ols=2", "-mos=2", "-multicast-weights", "-aic-binary-dir=OUT",
        "-compile-only", "-aic-profiling-type=stats", "-aic-profiling-type=trace",
    ])
    options = CompileOptions.from_flags(parsed)
    assert options.model == "model.onnx"
    assert options.symbols == {"batch_size": 1, "sequence": 128}
    assert (options.num_cores, options.ols, options.mos) == (4, 2, 2)
    assert options.fp16 and options.multicast and options.compile_only
    assert options.binary_dir == "OUT"
    assert options.profiling_types == ["stats", "trace"]
    assert parsed.given[0] == "-m=model.onnx" and parsed.given[3] == "-convert-to-fp16"


def test_other_spellings():
    parsed = parse_command_line(["-model", "m.onnx", "--aic-num-cores", "2", "-retained-state=true",
                                 "-compile-only=false", "-aic-hw-version=ai100"])
    options = CompileOptions.from_flags(parsed)
    assert options.model == "m.onnx" and options.num_cores == 2
    assert options.retained_state and not options.compile_only
    assert options.hw_version == "ai100"


def test_defaults():
    options = CompileOptions.from_flags(parse_command_line(["-m=m.onnx"]))
    assert (options.num_cores, options.ols, options.mos, options.batch_size) == (1, 1, None, 1)
    assert not options.fp16 and not options.multicast and not options.compile_only
    assert options.hw_version == "2.0" and options.binary_dir == "qpc" and options.instances == 1


@pytest.mark.parametrize("words, message", [
    (["-ols2=3"], "unknown flag '-ols2'; did you mean '-ols'?"),
    (["-convert-to-fp17"], "unknown flag '-convert-to-fp17'; did you mean '-convert-to-fp16'?"),
    (["-aic_num_cores=2"], "unknown flag '-aic_num_cores'; did you mean '-aic-num-cores'?"),
    (["-zzzzzz"], "unknown flag '-zzzzzz' (qaicc -h lists the flags)"),
    (["-onnx-define-symbol=batch_size"], "-onnx-define-symbol=batch_size: expected SYMBOL,VALUE"),
    (["-onnx-define-symbol=batch_size,abc"], "the value of 'batch_size' must be a positive integer, not 'abc'"),
    (["-onnx-define-symbol=batch_size,0"], "must be a positive integer, not '0'"),
    (["-onnx-define-symbol=,8"], "expected SYMBOL,VALUE"),
    (["-onnx-define-symbol=a,1,2"], "expected SYMBOL,VALUE"),
    (["-aic-num-cores=two"], "-aic-num-cores=two: expected a whole number"),
    (["-aic-num-cores=0"], "-aic-num-cores=0: must be at least 1"),
    (["-aic-num-cores"], "-aic-num-cores needs a value: -aic-num-cores=N"),
    (["-compile-only=maybe"], "-compile-only takes no value (or =true / =false), not 'maybe'"),
    (["-ols=2", "-ols=3"], "-ols is given twice with different values (2 and 3)"),
    (["-aic-profiling-type=flame"], "-aic-profiling-type=flame: use one of stats, trace, latency"),
    (["model.onnx"], "unexpected argument 'model.onnx'"),
    (["-aic-enable-depth-first"], "-aic-enable-depth-first is not supported yet"),
    (["-execute-nodes-in-fp16=Softmax"], "-execute-nodes-in-fp16 is not supported yet"),
    (["-quantization-schema=symmetric"], "-quantization-schema is not supported yet"),
    (["-quantization-anything=1"], "-quantization-anything is not supported yet"),
])
def test_mistakes_are_one_line(words, message):
    with pytest.raises(QaiccError) as caught:
        parse_command_line(words)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_a_symbol_defined_twice():
    with pytest.raises(QaiccError, match="'seq' is already defined as 8"):
        CompileOptions.from_flags(parse_command_line(["-onnx-define-symbol=seq,8", "-onnx-define-symbol=seq,16"]))
    same = CompileOptions.from_flags(parse_command_line(["-onnx-define-symbol=seq,8", "-onnx-define-symbol=seq,8"]))
    assert same.symbols == {"seq": 8}


def test_every_not_supported_flag_is_refused_in_one_line():
    for flag in FLAGS:
        if flag.status != NOT_SUPPORTED_YET:
            continue
        word = f"-{flag.name}" if flag.kind == "none" else f"-{flag.name}=1"
        with pytest.raises(QaiccError, match=f"^-{flag.name} is not supported yet"):
            parse_command_line([word])


def test_python_options_become_the_same_words():
    words = options_to_argv({"aic_num_cores": 4, "convert_to_fp16": True, "multicast_weights": False,
                             "onnx_define_symbol": {"batch_size": 1, "sequence": 16},
                             "aic_profiling_type": ["stats", "latency"], "model": "m.onnx"})
    assert words == ["-aic-num-cores=4", "-convert-to-fp16", "-onnx-define-symbol=batch_size,1",
                     "-onnx-define-symbol=sequence,16", "-aic-profiling-type=stats", "-aic-profiling-type=latency",
                     "-m=m.onnx"]
    with pytest.raises(QaiccError, match="unknown option 'aic_num_core'; did you mean 'aic_num_cores'"):
        options_to_argv({"aic_num_core": 4})


def test_help_lists_every_flag_and_its_status():
    text = help_text()
    for flag in FLAGS:
        assert f"-{flag.name}" in text
    implemented, _, unsupported = text.partition("not supported yet:")
    assert "-aic-num-cores=N" in implemented and "-aic-enable-depth-first" in unsupported


# -- the pipeline of each flag -------------------------------------------------------------


def _spec(words, **kwargs):
    options = CompileOptions.from_flags(parse_command_line(words))
    return pipeline_spec(options, target="ai100-pro", **kwargs)


def test_default_pipeline_is_fp32_on_one_core():
    spec = _spec(["-m=m.onnx"], emit_dir="out")
    assert spec == ('shape-inference,canonicalize,convert-onnx-to-aic-graph,fuse-aic-graph,'
                    'partition-cores{num-cores=1 target="ai100-pro"},ols-split{factor=1 target="ai100-pro"},'
                    'convert-aic-graph-to-aic-core,plan-memory{target="ai100-pro"},schedule{target="ai100-pro"},keep-on-chip{target="ai100-pro"},'
                    'convert-aic-core-to-qpc,emit-qpc{dir="out"}')


def test_every_flag_maps_to_its_pass():
    spec = _spec(["-onnx-define-symbol=batch_size,1", "-onnx-define-symbol=sequence,16", "-convert-to-fp16",
                  "-mxfp6-matmul", "-batchsize=4", "-aic-num-cores=4", "-ols=2", "-mos=2", "-multicast-weights"],
                 float16_io=["logits"], emit_dir="/tmp/a b")
    names = [p.split("{")[0] for p in spec.split(",") if not p.startswith('"')]
    assert names == ["bind-symbols", "shape-inference", "canonicalize", "convert-onnx-to-aic-graph",
                     "fuse-aic-graph", "legalize-fp16", "mxfp6-weights", "batch", "partition-cores", "mos",
                     "ols-split", "convert-aic-graph-to-aic-core", "insert-multicast", "plan-memory", "schedule", "keep-on-chip",
                     "convert-aic-core-to-qpc", "emit-qpc"]
    assert "bind-symbols{batch_size=1 sequence=16}" in spec
    assert 'legalize-fp16{float16-io="logits"}' in spec
    assert "batch{size=4}" in spec and "mos{effort=2" in spec and "ols-split{factor=2" in spec
    passes = build_pipeline(spec, ALL_PASSES)  # every option spelled as its pass expects
    assert passes[-1].dir == "/tmp/a b"
    assert passes[0].symbols == (("batch_size", 1), ("sequence", 16))


def test_float16_io_needs_fp16():
    with pytest.raises(QaiccError, match="need -convert-to-fp16"):
        _spec(["-m=m.onnx"], float16_io=["x"])
