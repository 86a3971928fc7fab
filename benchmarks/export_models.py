#!/usr/bin/env python3
"""Export the benchmark / test / example models to ONNX.

Contract
--------
* Standalone: needs only ``torch``, ``transformers``, ``onnxscript`` (used by
  ``torch.onnx.export(dynamo=True)``), ``onnx`` and ``onnxruntime`` -- see
  ``benchmarks/requirements-export.txt``.  These are export-only dependencies;
  the qaicc compiler never imports them, and this script never imports qaicc.
* Nothing is downloaded: every model is built from a transformers *config
  class* (or plain torch modules) with random weights.  Before each model is
  built, ``torch.manual_seed(0)`` is called, and every parameter / batch-norm
  statistic is then perturbed from a fixed seed so that biases are not all zero
  and LayerNorm / BatchNorm affine terms are not all one (a compiler that drops
  a bias must fail the numerical checks).
* Exporter: the torch.export-based exporter (``dynamo=True``), ONNX opset 18
  (the lowest opset it implements; asking it for 17 goes through the ONNX
  version converter, which emits an invalid ``Split``).  The TorchScript
  exporter (``dynamo=False``) produces numerically wrong BERT/GPT-2 graphs with
  transformers 5 whenever ``attention_mask`` contains padding, so it is not used.
  Attention is exported with ``attn_implementation="eager"`` (explicit
  MatMul/Softmax; the SDPA path adds IsNaN/Where guards).
* Graph cleanup: the exporter's onnxscript optimizer runs as usual, except that
  BatchNormalization is NOT folded into Conv (the CNNs keep explicit
  BatchNormalization nodes, as in the ONNX model zoo), and constants of up to
  64K elements are folded so small and full graphs use the same operators.
  Features a consumer must handle: BERT/GPT-2 build their attention mask in
  the graph (Range/Unsqueeze/Max/Expand/GatherND/And/Where on the int64
  ``attention_mask``); GPT-2's LM head is a runtime ``Transpose`` of the tied
  embedding table; MobileNetV2 has depthwise convs with asymmetric pads
  (TF "SAME" padding folded into Conv) and ReLU6 as Clip.
* Determinism: node / model metadata and doc strings (which hold stack traces
  with absolute paths) are stripped, so re-running the script with the same
  package versions gives byte-identical files.
* Every weight is stored inside the single ``.onnx`` file (no external data);
  all models here are < 2 GB.
* Inputs: vision models take ``pixel_values`` float32 ``[1, 3, H, W]`` (static);
  ``bert`` takes ``input_ids``, ``attention_mask``, ``token_type_ids`` and
  ``gpt2`` takes ``input_ids``, ``attention_mask``, all int64
  ``[batch_size, sequence]`` with those symbolic dim names.  ``gpt2`` has no
  KV-cache outputs (``use_cache=False``).
* After writing a file the script checks it: ``onnx.checker.check_model``, the
  symbolic input dims, and an onnxruntime run on random inputs compared with
  the torch output (a second run at another batch/sequence for text models).

Sizes (``--size``)
------------------
``small``    five families, a few layers / small widths, every file < 2 MB,
             written as ``<family>_small.onnx`` to ``tests/models/`` (committed).
``full``     the real architectures (ResNet-50, MobileNetV2-1.0, BERT-base,
             GPT-2 small with LM head, ViT-B/16), written as ``<family>.onnx``
             to ``.cache/models/`` (never committed).
``example``  ``tiny_cnn`` (conv/bn/relu/pool/gemm classifier, < 200 KB),
             written as ``tiny_cnn.onnx`` to ``examples/``.

Usage
-----
    python benchmarks/export_models.py --size small
    python benchmarks/export_models.py --size full --only bert,gpt2
    python benchmarks/export_models.py --only tiny_cnn      # implies --size example

An existing output file is skipped unless ``--force`` is given.  Default
output directories are relative to the repository root (the parent of
``benchmarks/``), whatever the current directory; ``--out`` is taken as given.
Exit status is non-zero if any export or check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
import torch

OPSET = 18
CONSTANT_FOLD_LIMIT = 1 << 16  # elements
SEED = 0
REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_OUT = {
    "small": REPO_ROOT / "tests" / "models",
    "full": REPO_ROOT / ".cache" / "models",
    "example": REPO_ROOT / "examples",
}
FILE_SUFFIX = {"small": "_small", "full": "", "example": ""}
TEXT_DIMS = ("batch_size", "sequence")


@dataclasses.dataclass
class ExportSpec:
    """Everything needed to export one model and check the result."""

    module: torch.nn.Module
    inputs: dict[str, torch.Tensor]
    output_names: list[str]
    dynamic: bool = False  # True: every input is [batch_size, sequence]
    max_sequence: int = 0  # upper bound of ``sequence`` (position table size)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def perturb_weights(module: torch.nn.Module, seed: int = SEED) -> torch.nn.Module:
    """Deterministically add noise to every float parameter and BN statistic.

    Transformers' default init leaves biases at 0 and norm scales at 1; noise
    makes those tensors distinct (no initializer de-duplication by the
    exporter) and numerically meaningful.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.is_floating_point():
                param.add_(0.02 * torch.randn(param.shape, generator=gen))
        for sub in module.modules():
            if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
                sub.running_mean.copy_(0.1 * torch.randn(sub.running_mean.shape, generator=gen))
                sub.running_var.copy_(0.5 + torch.rand(sub.running_var.shape, generator=gen))
    return module.eval()


def text_inputs(vocab: int, with_token_types: bool) -> dict[str, torch.Tensor]:
    """Example int64 inputs [2, 16]; the second row is padded after 10 tokens."""
    gen = torch.Generator().manual_seed(SEED)
    inputs = {"input_ids": torch.randint(0, vocab, (2, 16), generator=gen)}
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 10:] = 0
    inputs["attention_mask"] = mask
    if with_token_types:
        token_types = torch.zeros(2, 16, dtype=torch.int64)
        token_types[:, 8:] = 1
        inputs["token_type_ids"] = token_types
    return inputs


def image_inputs(size: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(SEED)
    return {"pixel_values": torch.randn(1, 3, size, size, generator=gen)}


class OutputFields(torch.nn.Module):
    """Calls a transformers model with keyword inputs and returns chosen fields."""

    def __init__(self, model: torch.nn.Module, fields: tuple[str, ...], **call_kwargs):
        super().__init__()
        self.model = model
        self.fields = fields
        self.call_kwargs = call_kwargs

    def forward(self, **inputs: torch.Tensor):
        out = self.model(**inputs, **self.call_kwargs, return_dict=True)
        values = tuple(getattr(out, f) for f in self.fields)
        return values[0] if len(values) == 1 else values


class PixelModel(OutputFields):
    def forward(self, pixel_values: torch.Tensor):  # noqa: D102
        return super().forward(pixel_values=pixel_values)


class BertWrapper(OutputFields):
    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        return super().forward(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )


class Gpt2Wrapper(OutputFields):
    def forward(self, input_ids, attention_mask):  # noqa: D102
        return super().forward(input_ids=input_ids, attention_mask=attention_mask)


# --------------------------------------------------------------------------
# model families
# --------------------------------------------------------------------------


def build_resnet50(size: str) -> ExportSpec:
    from transformers import ResNetConfig, ResNetForImageClassification

    if size == "full":  # ResNet-50 (microsoft/resnet-50 layout)
        cfg = ResNetConfig(
            embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3],
            layer_type="bottleneck", num_labels=1000,
        )
        image = 224
    else:
        cfg = ResNetConfig(
            embedding_size=16, hidden_sizes=[32, 64, 96, 128], depths=[1, 1, 2, 1],
            layer_type="bottleneck", num_labels=10,
        )
        image = 64
    model = perturb_weights(ResNetForImageClassification(cfg))
    return ExportSpec(PixelModel(model, ("logits",)), image_inputs(image), ["logits"])


def build_mobilenetv2(size: str) -> ExportSpec:
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    if size == "full":  # MobileNetV2 1.0 / 224
        cfg = MobileNetV2Config(depth_multiplier=1.0, image_size=224, num_labels=1000)
        image = 224
    else:
        cfg = MobileNetV2Config(depth_multiplier=0.25, image_size=64, num_labels=10)
        image = 64
    model = perturb_weights(MobileNetV2ForImageClassification(cfg))
    return ExportSpec(PixelModel(model, ("logits",)), image_inputs(image), ["logits"])


def build_vit(size: str) -> ExportSpec:
    from transformers import ViTConfig, ViTForImageClassification

    if size == "full":  # ViT-B/16
        cfg = ViTConfig(
            hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, image_size=224, patch_size=16, num_labels=1000,
            attn_implementation="eager",
        )
    else:
        cfg = ViTConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128, image_size=64, patch_size=16, num_labels=10,
            attn_implementation="eager",
        )
    model = perturb_weights(ViTForImageClassification(cfg))
    return ExportSpec(PixelModel(model, ("logits",)), image_inputs(cfg.image_size), ["logits"])


def build_bert(size: str) -> ExportSpec:
    from transformers import BertConfig, BertModel

    if size == "full":  # bert-base-uncased sizes
        cfg = BertConfig(
            vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512, attn_implementation="eager",
        )
    else:
        cfg = BertConfig(
            vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128, max_position_embeddings=128, attn_implementation="eager",
        )
    model = perturb_weights(BertModel(cfg))
    return ExportSpec(
        BertWrapper(model, ("last_hidden_state", "pooler_output")),
        text_inputs(cfg.vocab_size, with_token_types=True),
        ["last_hidden_state", "pooler_output"],
        dynamic=True,
        max_sequence=cfg.max_position_embeddings,
    )


def build_gpt2(size: str) -> ExportSpec:
    from transformers import GPT2Config, GPT2LMHeadModel

    if size == "full":  # GPT-2 small (124M, tied LM head)
        cfg = GPT2Config(
            vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
            use_cache=False, attn_implementation="eager",
        )
    else:
        cfg = GPT2Config(
            vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=2,
            bos_token_id=0, eos_token_id=0, use_cache=False, attn_implementation="eager",
        )
    model = perturb_weights(GPT2LMHeadModel(cfg))
    return ExportSpec(
        Gpt2Wrapper(model, ("logits",), use_cache=False),
        text_inputs(cfg.vocab_size, with_token_types=False),
        ["logits"],
        dynamic=True,
        max_sequence=cfg.n_positions,
    )


class TinyCNN(torch.nn.Module):
    """Two conv/bn/relu/maxpool stages, global average pool, linear head."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers: list[torch.nn.Module] = []
        for cin, cout in ((3, 16), (16, 32)):
            layers += [
                torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                torch.nn.BatchNorm2d(cout),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
            ]
        self.features = torch.nn.Sequential(*layers)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.classifier = torch.nn.Linear(32, num_classes)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = self.pool(self.features(pixel_values))
        return self.classifier(torch.flatten(x, 1))


def build_tiny_cnn(size: str) -> ExportSpec:
    del size
    model = perturb_weights(TinyCNN())
    return ExportSpec(model, image_inputs(32), ["logits"])


FAMILIES: dict[str, dict[str, Callable[[str], ExportSpec]]] = {
    "small": {
        "resnet50": build_resnet50,
        "mobilenetv2": build_mobilenetv2,
        "bert": build_bert,
        "gpt2": build_gpt2,
        "vit": build_vit,
    },
    "example": {"tiny_cnn": build_tiny_cnn},
}
FAMILIES["full"] = dict(FAMILIES["small"])


# --------------------------------------------------------------------------
# export + check
# --------------------------------------------------------------------------


def dynamic_shapes(spec: ExportSpec):
    if not spec.dynamic:
        return None
    batch = torch.export.Dim(TEXT_DIMS[0], min=1, max=1024)
    seq = torch.export.Dim(TEXT_DIMS[1], min=1, max=spec.max_sequence)
    return {name: {0: batch, 1: seq} for name in spec.inputs}


def strip_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop doc strings and metadata_props (stack traces, absolute paths)."""

    def clear(proto) -> None:
        if hasattr(proto, "metadata_props"):
            del proto.metadata_props[:]
        if hasattr(proto, "doc_string"):
            proto.doc_string = ""

    clear(model)
    graphs = [model.graph] + [f for f in model.functions]
    for graph in graphs:
        clear(graph)
        for field in ("node", "input", "output", "value_info", "initializer"):
            for item in getattr(graph, field, []):
                clear(item)
    return model


@contextlib.contextmanager
def keep_batchnorm():
    """Stop the exporter's optimizer from folding BatchNormalization into Conv.

    ``torch.onnx.export(optimize=True)`` runs onnxscript's default rewrite
    rules, which include Conv+BatchNormalization fusion; the models here keep
    their BatchNormalization nodes (as in the ONNX model zoo) so that such
    folding is left to the compiler.  Uses a private onnxscript attribute; if it
    is missing the export proceeds with BN folded.
    """
    try:
        import onnxscript.rewriter as rewriter
        from onnxscript.rewriter.rules.common import _fuse_batchnorm

        original = rewriter._DEFAULT_REWRITE_RULES
    except (ImportError, AttributeError):
        yield
        return
    banned = {id(rule) for rule in _fuse_batchnorm.rules}
    rewriter._DEFAULT_REWRITE_RULES = tuple(r for r in original if id(r) not in banned)
    try:
        yield
    finally:
        rewriter._DEFAULT_REWRITE_RULES = original


def fold_small_constants(model) -> None:
    """Re-run the exporter's optimizer with a larger constant-folding limit.

    The default limit (8192 input elements) leaves size-dependent leftovers:
    e.g. ViT-B/16's all-zero attention bias is ``Where(const[1,1,197,197])``
    while the small ViT's is folded.  Folding tensors of up to 64K elements
    makes small and full graphs use the same operators.  ``Transpose`` is
    excluded so that no weight gets a second, transposed copy (GPT-2's tied
    LM head keeps its runtime ``Transpose`` of the embedding table).
    """
    import onnxscript.optimizer

    onnxscript.optimizer.optimize_ir(
        model,
        input_size_limit=CONSTANT_FOLD_LIMIT,
        should_fold=lambda node: False if node.op_type == "Transpose" else None,
    )


def export_model(spec: ExportSpec, path: Path, opset: int) -> None:
    """Export ``spec`` to ``path`` as one self-contained, metadata-free file."""
    torch.manual_seed(SEED)
    with warnings.catch_warnings(), torch.no_grad(), keep_batchnorm():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            spec.module,
            args=(),
            kwargs=dict(spec.inputs),
            input_names=list(spec.inputs),
            output_names=spec.output_names,
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=dynamic_shapes(spec),
            external_data=False,
            optimize=True,
            verbose=False,
        )
        fold_small_constants(program.model)
    proto = strip_metadata(program.model_proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.tmp")
    onnx.save_model(proto, str(tmp))
    os.replace(tmp, path)


def input_dims(model: onnx.ModelProto) -> dict[str, list]:
    return {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }


def random_feeds(spec: ExportSpec, batch: int, seq: int) -> dict[str, np.ndarray]:
    """Inputs for a check run; text models get a different batch/sequence."""
    rng = np.random.default_rng(SEED + 1)
    feeds = {}
    for name, ref in spec.inputs.items():
        if name == "pixel_values":
            feeds[name] = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
        elif name == "input_ids":
            feeds[name] = rng.integers(0, int(ref.max()) + 1, (batch, seq), dtype=np.int64)
        elif name == "attention_mask":
            mask = np.ones((batch, seq), dtype=np.int64)
            mask[-1, seq // 2 :] = 0
            feeds[name] = mask
        else:
            feeds[name] = rng.integers(0, 2, (batch, seq), dtype=np.int64)
    return feeds


def compare_with_torch(spec: ExportSpec, session, feeds: dict[str, np.ndarray]) -> float:
    """Relative max-abs error of the onnxruntime outputs against torch."""
    with torch.no_grad():
        expected = spec.module(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = session.run(None, feeds)
    worst = 0.0
    for exp, act in zip(expected, actual):
        exp = exp.numpy()
        if exp.shape != act.shape:
            raise AssertionError(f"shape mismatch {act.shape} vs torch {exp.shape}")
        scale = max(1.0, float(np.abs(exp).max()))
        worst = max(worst, float(np.abs(exp - act).max()) / scale)
    return worst


def check_model(spec: ExportSpec, path: Path, tolerance: float = 1e-3) -> dict:
    """Validate the file; returns statistics for the summary line."""
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path), load_external_data=False)
    dims = input_dims(model)
    if spec.dynamic:
        for name, shape in dims.items():
            if shape != list(TEXT_DIMS):
                raise AssertionError(f"{name} has dims {shape}, expected {list(TEXT_DIMS)}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    shapes = [(2, 16), (3, 7)] if spec.dynamic else [(1, 1)]
    error = max(compare_with_torch(spec, session, random_feeds(spec, b, s)) for b, s in shapes)
    if error > tolerance:
        raise AssertionError(f"onnxruntime differs from torch: rel err {error:.3g}")
    return {
        "nodes": len(model.graph.node),
        "ops": sorted({n.op_type for n in model.graph.node}),
        "rel_err": error,
        "inputs": dims,
    }


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(FAMILIES), default=None,
                        help="small (default), full, or example (tiny_cnn)")
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--only", default="", help="comma-separated family names")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--no-check", action="store_true", help="skip validation")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    if args.size is None:
        args.size = "example" if only and set(only) <= set(FAMILIES["example"]) else "small"
    unknown = [n for n in only if n not in FAMILIES[args.size]]
    if unknown:
        parser.error(f"unknown {args.size} families {unknown}; "
                     f"choose from {sorted(FAMILIES[args.size])}")
    args.families = only or list(FAMILIES[args.size])
    args.out = args.out or DEFAULT_OUT[args.size]
    return args


def export_family(name: str, args: argparse.Namespace) -> None:
    """Build, export and check one family; prints a summary line."""
    path = args.out / f"{name}{FILE_SUFFIX[args.size]}.onnx"
    if path.exists() and not args.force:
        print(f"{name}: {path} exists, skipped (use --force)")
        return
    start = time.perf_counter()
    torch.manual_seed(SEED)
    spec = FAMILIES[args.size][name](args.size)
    built = time.perf_counter()
    export_model(spec, path, OPSET)
    exported = time.perf_counter()
    line = (f"{name}: {path} {path.stat().st_size / 1e6:.3f} MB, "
            f"{count_parameters(spec.module) / 1e6:.2f}M params, "
            f"build {built - start:.1f}s, export {exported - built:.1f}s")
    if not args.no_check:
        start = time.perf_counter()
        stats = check_model(spec, path)
        line += (f", check {time.perf_counter() - start:.1f}s, {stats['nodes']} nodes, "
                 f"rel err {stats['rel_err']:.1e}\n"
                 f"    inputs {stats['inputs']}\n    ops {' '.join(stats['ops'])}")
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("torch").setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    ok = True
    for name in args.families:
        try:
            export_family(name, args)
        except Exception as exc:  # report and continue with the next family
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
