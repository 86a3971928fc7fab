# lit configuration for qaicc's IR tests: each .mlir file runs qaicc-opt and checks the
# output with filecheck (the Python FileCheck).
import os
import sys

import lit.formats

config.name = "qaicc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
bin_dir = os.path.dirname(sys.executable)
config.environment["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
config.substitutions.append(("%inputs", os.path.join(os.path.dirname(__file__), "Inputs")))
config.excludes = ["Inputs", "lit.cfg.py"]
