// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,plan-memory' | filecheck %s
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,plan-memory{target="%inputs/tiny-vtcm.json"}' | filecheck %s --check-prefix=RETILE
// RUN: sed 's/"vtcm_usable_bytes": 400/"vtcm_usable_bytes": 100/' %inputs/tiny-vtcm.json > %t.json
// RUN: not qaicc-opt %s -p 'convert-aic-graph-to-aic-core,plan-memory{target="%t.json"}' 2>&1 | filecheck %s --check-prefix=TOO-SMALL
// RUN: not qaicc-opt %s -p 'plan-memory' 2>&1 | filecheck %s --check-prefix=LEVEL

// DDR: the constant, the input and the output each keep their range; the intermediates
// mm -> relu -> neg form a chain, so neg reuses mm's bytes (relu, mm's only reader, is
// done when neg is written).
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "in.x", {{.*}} offset = 256 : i64}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "w", {{.*}} offset = 0 : i64}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "mm", type = tensor<8x4xf32>, kind = "intermediate", offset = [[MM:[0-9]+]] : i64}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "relu", type = tensor<8x4xf32>, kind = "intermediate", offset = 1024 : i64}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "neg", type = tensor<8x4xf32>, kind = "intermediate", offset = [[MM]] : i64}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "abs", {{.*}} kind = "output", io_name = "y", offset = 768 : i64}>
// VTCM: two tiles in flight (ols = 2): x and the result take two copies, w stays.
// CHECK:      "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}>
// CHECK-NEXT:   "aic_core.dma_load"() <{source = @in.x, {{.*}} vtcm_offset = 0 : i64, buffers = 2 : i64}> : () -> tensor<2x16xf32>
// CHECK-NEXT:   "aic_core.dma_load"() <{source = @w, {{.*}} vtcm_offset = 256 : i64, buffers = 1 : i64}> : () -> tensor<16x4xf32>
// CHECK-NEXT:   "aic_core.compute"(%{{.*}}, %{{.*}}) <{unit = "matrix", vtcm_offset = 512 : i64, buffers = 2 : i64}>
// CHECK:      "aic_core.task"() <{op_name = "relu"
// CHECK-NEXT:   "aic_core.dma_load"() <{source = @mm, {{.*}} vtcm_offset = 0 : i64, buffers = 1 : i64}> : () -> tensor<8x4xf32>
// CHECK-NEXT:   "aic_core.compute"(%{{.*}}) <{unit = "vector", vtcm_offset = 128 : i64, buffers = 1 : i64}>

// With 400 bytes of VTCM the matmul's 576 bytes do not fit: 4 tiles of one row, one
// copy each (336 bytes); w still stays resident.
// RETILE:      "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 4 : i64, ols = 1 : i64}>
// RETILE-NEXT:   "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>, vtcm_offset = 256 : i64, buffers = 1 : i64}> : () -> tensor<1x16xf32>
// RETILE-NEXT:   "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, vtcm_offset = 0 : i64, buffers = 1 : i64}> : () -> tensor<16x4xf32>
// RETILE:        "aic_graph.matmul"(%{{.*}}, %{{.*}}) : (tensor<1x16xf32>, tensor<16x4xf32>) -> tensor<1x4xf32>
// RETILE:        "aic_core.dma_store"(%{{.*}}) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}>

// TOO-SMALL: qaicc-opt: error: plan-memory: task 'mm' on core 0 needs 576 bytes of VTCM, more than the 100 bytes of target 'tiny-vtcm' (the smallest tiling along a parallel axis needs 132 bytes); partition the op over more cores

// LEVEL: qaicc-opt: error: plan-memory: the module has no aic_core.program; run convert-aic-graph-to-aic-core first

builtin.module {
  func.func @main_graph(%x: tensor<8x16xf32> {onnx.name = "x"}) -> (tensor<8x4xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<16x4xf32>>}> : () -> tensor<16x4xf32>
    %mm = "aic_graph.matmul"(%x, %w) {onnx_node_name = "mm", aic.blocks = [array<i64: 0, 0, 0, 4, 4>, array<i64: 1, 4, 0, 4, 4>], aic.tiles = 2 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
    %r = "aic_graph.unary"(%mm) <{kind = "relu"}> {onnx_node_name = "relu"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    %n = "aic_graph.unary"(%r) <{kind = "neg"}> {onnx_node_name = "neg"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    %y = "aic_graph.unary"(%n) <{kind = "abs"}> {onnx_node_name = "abs"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    func.return %y : tensor<8x4xf32>
  }
}
