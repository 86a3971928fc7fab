// RUN: rm -rf %t && mkdir -p %t
// RUN: qaicc-opt %s -p 'convert-aic-core-to-qpc{flags="-aic-num-cores=2 -ols=2"},emit-qpc{dir="%t/out"}' -o %t/ir.mlir
// RUN: qaicc-qpc inspect %t/out | filecheck %s
// RUN: qaicc-qpc inspect %t/out --json | filecheck %s --check-prefix=JSON
// RUN: qaicc-opt %s -p 'convert-aic-core-to-qpc{flags="-aic-num-cores=2 -ols=2"},emit-qpc{dir="%t/again"}' -o %t/ir2.mlir
// RUN: cmp %t/out/programqpc.bin %t/again/programqpc.bin
// RUN: not qaicc-qpc inspect %t/missing 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not qaicc-opt %s -p 'convert-aic-core-to-qpc,emit-qpc{dir="%t/no/such/dir"}' 2>&1 | filecheck %s --check-prefix=NODIR

// emit-qpc writes <dir>/programqpc.bin (creating <dir>); two compiles give the same bytes;
// qaicc-qpc inspect shows what it holds. The VTCM estimate of the matmul task: x tile
// 1x4 (16 B) and result 1x2 (8 B) double-buffered (ols 2), w resident (32 B): 80 B.
// CHECK:      QPC {{.*}}out/programqpc.bin
// CHECK-NEXT:   format 1.0 (qpc IR 1), [[SIZE:[0-9,]+]] B
// CHECK-NEXT: target: ai100-pro (16 cores, 8,323,072 B (7.9 MiB) usable VTCM per core)
// CHECK-NEXT: cores: 2
// CHECK-NEXT: batch: 1
// CHECK-NEXT: flags: -aic-num-cores=2 -ols=2
// CHECK-NEXT: inputs:
// CHECK-NEXT:   x  float32   4x4               batch 1  64 B
// CHECK-NEXT: outputs:
// CHECK-NEXT:   y  float32   8                 batch 1  32 B
// CHECK-NEXT: sections:
// CHECK-NEXT:   meta       offset          384  size
// CHECK-NEXT:   kernels    offset
// CHECK-NEXT:   streams    offset
// CHECK-NEXT:   constants  offset {{.*}} size 64 B
// CHECK-NEXT: VTCM: peak 80 B of 8,323,072 B (7.9 MiB) per core (estimated, no VTCM plan: the largest task working set)
// CHECK-NEXT:   per core: 0-1: 80
// CHECK-NEXT: DDR: 256 B (not planned: the sum of the tensors)
// CHECK-NEXT:   constant 64 B, input 64 B, intermediate 128 B
// CHECK-NEXT: constants: 1 in a 64 B segment
// CHECK-NEXT: kernels: 2 unique (1 matrix, 1 vector)
// CHECK-NEXT: streams:
// CHECK-NEXT:   core tasks tile_iterations dma_loads execs dma_stores waits signals
// CHECK-NEXT:      0     2               3         3     2          2     1       2
// CHECK-NEXT:      1     2               3         3     2          2     1       2

// JSON:      "format_version": "1.0",
// JSON:      "inputs": [
// JSON-NEXT:   {
// JSON-NEXT:     "batch": 1,
// JSON-NEXT:     "bytes": 64,
// JSON-NEXT:     "dtype": "float32",
// JSON-NEXT:     "name": "x",
// JSON:      "sections": [
// JSON:          "name": "meta",
// JSON:          "name": "kernels",
// JSON:          "name": "streams",
// JSON:          "name": "constants",
// JSON:      "target": {
// JSON-NEXT:   "cores": 16,
// JSON:        "name": "ai100-pro",

// MISSING: qaicc-qpc: error: {{.*}}missing: no such directory
// NODIR: qaicc-opt: error: cannot write {{.*}}no/such/dir/programqpc.bin: neither {{.*}}no/such/dir nor its parent {{.*}}no/such exists

builtin.module attributes {aic_core.num_cores = 2 : i64} {
  func.func @main_graph(%x: tensor<4x4xf32> {onnx.name = "x"}) -> (tensor<8xf32> {onnx.name = "y"}) {
    %0 = "aic_core.launch"(%x) <{inputs = [@in.x], outputs = [@act.view]}> : (tensor<4x4xf32>) -> tensor<8xf32>
    func.return %0 : tensor<8xf32>
  }
  "aic_core.ddr_tensor"() <{sym_name = "in.x", type = tensor<4x4xf32>, kind = "input", io_name = "x"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "w", type = tensor<4x2xf32>, kind = "constant", value = #qaicc.blob<"w" : tensor<4x2xf32> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "mm", type = tensor<4x2xf32>, kind = "intermediate"}> : () -> ()
  "aic_core.semaphore"() <{sym_name = "mm.ready"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "act", type = tensor<4x2xf32>, kind = "intermediate"}> : () -> ()
  "aic_core.semaphore"() <{sym_name = "act.ready"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "act.view", type = tensor<8xf32>, kind = "alias", alias = @act, io_name = "y"}> : () -> ()
  "aic_core.program"() <{core = 0 : i64}> ({
    "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
      %0 = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}> : () -> tensor<1x4xf32>
      %1 = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<4x2xf32>
      %2 = "aic_core.compute"(%0, %1) <{unit = "matrix"}> ({
      ^bb0(%3: tensor<1x4xf32>, %4: tensor<4x2xf32>):
        %5 = "aic_graph.matmul"(%3, %4) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
        "aic_core.yield"(%5) : (tensor<1x2xf32>) -> ()
      }) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
      "aic_core.dma_store"(%2) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}> : (tensor<1x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @mm.ready}> : () -> ()
    "aic_core.wait"() <{semaphore = @mm.ready, count = 2 : i64}> : () -> ()
    "aic_core.task"() <{op_name = "act", op_index = 1 : i64, unit = "vector", tiles = 1 : i64, ols = 1 : i64}> ({
      %6 = "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<2x2xf32>
      %7 = "aic_core.compute"(%6) <{unit = "vector"}> ({
      ^bb0(%8: tensor<2x2xf32>):
        %9 = "aic_graph.unary"(%8) <{kind = "relu"}> : (tensor<2x2xf32>) -> tensor<2x2xf32>
        "aic_core.yield"(%9) : (tensor<2x2xf32>) -> ()
      }) : (tensor<2x2xf32>) -> tensor<2x2xf32>
      "aic_core.dma_store"(%7) <{target = @act, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : (tensor<2x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @act.ready}> : () -> ()
  }) : () -> ()
  "aic_core.program"() <{core = 1 : i64}> ({
    "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
      %10 = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 2, 0>, tile_steps = array<i64: 1, 0>}> : () -> tensor<1x4xf32>
      %11 = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<4x2xf32>
      %12 = "aic_core.compute"(%10, %11) <{unit = "matrix"}> ({
      ^bb0(%13: tensor<1x4xf32>, %14: tensor<4x2xf32>):
        %15 = "aic_graph.matmul"(%13, %14) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
        "aic_core.yield"(%15) : (tensor<1x2xf32>) -> ()
      }) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
      "aic_core.dma_store"(%12) <{target = @mm, offsets = array<i64: 2, 0>, tile_steps = array<i64: 1, 0>}> : (tensor<1x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @mm.ready}> : () -> ()
    "aic_core.wait"() <{semaphore = @mm.ready, count = 2 : i64}> : () -> ()
    "aic_core.task"() <{op_name = "act", op_index = 1 : i64, unit = "vector", tiles = 1 : i64, ols = 1 : i64}> ({
      %16 = "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 2, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<2x2xf32>
      %17 = "aic_core.compute"(%16) <{unit = "vector"}> ({
      ^bb0(%18: tensor<2x2xf32>):
        %19 = "aic_graph.unary"(%18) <{kind = "relu"}> : (tensor<2x2xf32>) -> tensor<2x2xf32>
        "aic_core.yield"(%19) : (tensor<2x2xf32>) -> ()
      }) : (tensor<2x2xf32>) -> tensor<2x2xf32>
      "aic_core.dma_store"(%17) <{target = @act, offsets = array<i64: 2, 0>, tile_steps = array<i64: 0, 0>}> : (tensor<2x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @act.ready}> : () -> ()
  }) : () -> ()
}
