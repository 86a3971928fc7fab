# qaicc: every target creates .venv (with the project and its test extra) if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qaicc-installed
MODELS_CACHE ?= .cache/models

.PHONY: run test test-all lit benchmark benchmark-models export-small-models regenerate-dialect clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The main job on the bundled example: compile it with a qaic-exec command line, run the
# QPC on the simulator with qaicc-run (qaic-runner's statistics), compare with onnxruntime.
EXAMPLE_QPC ?= out/tiny_cnn
run: $(STAMP)
	$(BIN)/qaicc -m=examples/tiny_cnn.onnx -convert-to-fp16 -aic-num-cores=2 -ols=2 -multicast-weights \
		-aic-hw-version=2.0 -aic-binary-dir=$(EXAMPLE_QPC) -compile-only -aic-perf-metrics -time-passes
	$(BIN)/python examples/run_example.py --model examples/tiny_cnn.onnx --qpc $(EXAMPLE_QPC)

# Every test (CI runs this).
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/lit -q tests/lit

test-all: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/lit -q tests/lit

# Full-size models (ResNet-50, MobileNetV2, BERT-base, GPT-2, ViT-B/16) are exported into
# $(MODELS_CACHE), never committed; exporting needs torch and transformers.
benchmark-models: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements-export.txt
	$(BIN)/python benchmarks/export_models.py --size full --out $(MODELS_CACHE)

benchmark: benchmark-models
	$(BIN)/python benchmarks/import_print_parse.py --models $(MODELS_CACHE)

export-small-models: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements-export.txt
	$(BIN)/python benchmarks/export_models.py --size small --out tests/models --force

regenerate-dialect: $(STAMP)
	$(BIN)/python tools/gen_onnx_dialect.py

clean:
	rm -rf $(VENV) .pytest_cache
