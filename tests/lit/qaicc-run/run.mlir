// qaicc-run on a QPC compiled from the bundled example: the statistics, the profiling
// files, and one-line errors.
// RUN: rm -rf %t && mkdir -p %t
// RUN: qaicc-opt %S/../../../examples/tiny_cnn.onnx -o %t/ir.mlir -p 'shape-inference,canonicalize,convert-onnx-to-aic-graph,fuse-aic-graph,partition-cores{num-cores=2},ols-split{factor=2},convert-aic-graph-to-aic-core,insert-multicast,schedule,plan-memory,convert-aic-core-to-qpc,emit-qpc{dir="%t/qpc"}'
// RUN: qaicc-run -t %t/qpc -n 10 -a 4 --aic-profiling-type latency --aic-profiling-out-dir %t/prof | filecheck %s --check-prefix=STATS
// RUN: filecheck %s --check-prefix=LATENCY < %t/prof/aic-profiling-program-0-latency.txt
// RUN: not qaicc-run -t %t/qpc -a 9 2>&1 | filecheck %s --check-prefix=CORES
// RUN: not qaicc-run -t %t/none 2>&1 | filecheck %s --check-prefix=MISSING

// STATS: {{^}} ---- Stats ----{{$}}
// STATS-NEXT: {{^}}InferenceCnt 10 TotalDuration {{[0-9]+}}us BatchSize 1 Inf/Sec {{[0-9]+\.[0-9]{3}$}}
// STATS-NEXT: simulated

// LATENCY: SIMULATED
// LATENCY: 9 1 2 {{[0-9.]+}} {{[0-9.]+}} {{[0-9.]+}}
// LATENCY: # count 10 mean_us

// CORES: qaicc-run: error: 9 instances x 2 cores = 18 cores, more than the 16 cores of ai100-pro
// CORES-NOT: Traceback
// MISSING: qaicc-run: error: {{.*}}none: no such directory
