// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,plan-memory,schedule,keep-on-chip' | filecheck %s
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,keep-on-chip,plan-memory' | filecheck %s --check-prefix=BEFORE
// RUN: sed 's/"vtcm_usable_bytes": 400/"vtcm_usable_bytes": 380/' %inputs/tiny-vtcm.json > %t.json
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,plan-memory{target="%t.json"},keep-on-chip{target="%t.json"}' | filecheck %s --check-prefix=SHORT
// RUN: not qaicc-opt %s -p 'keep-on-chip' 2>&1 | filecheck %s --check-prefix=LEVEL

// mm and relu are split by the same rows over cores 0 and 1: each core reads back the
// rows of mm it stored, so mm stays in its VTCM (a region above both tasks' buffers).
// relu's rows are read by neg, split otherwise (core 0 does all): relu goes through DDR;
// neg and abs both run whole on core 0: neg stays on chip too.
// CHECK:      "aic_core.program"() <{core = 0 : i64}>
// CHECK:      "aic_core.task"() <{op_name = "mm"
// CHECK:        "aic_core.dma_store"(%{{.*}}) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 2, 0>, on_chip, resident = array<i64: [[R0:[0-9]+]], 64>}>
// CHECK:      "aic_core.task"() <{op_name = "relu"
// CHECK-NEXT:   "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, {{.*}}on_chip, resident = array<i64: [[R0]], 64>{{.*}}}>
// CHECK:        "aic_core.dma_store"(%{{.*}}) <{target = @relu, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}>
// CHECK:      "aic_core.task"() <{op_name = "neg"
// CHECK-NEXT:   "aic_core.dma_load"() <{source = @relu, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, vtcm_offset = 0 : i64, buffers = 1 : i64}>
// CHECK:        "aic_core.dma_store"(%{{.*}}) <{target = @neg, {{.*}} on_chip, resident = array<i64: {{[0-9]+}}, 128>}>
// CHECK:        "aic_core.dma_load"() <{source = @neg, {{.*}}on_chip, resident = array<i64: {{[0-9]+}}, 128>{{.*}}}>
// CHECK:        "aic_core.dma_store"(%{{.*}}) <{target = @abs, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}>
// CHECK:      "aic_core.program"() <{core = 1 : i64}>
// CHECK:        "aic_core.dma_store"(%{{.*}}) <{target = @mm, offsets = array<i64: 4, 0>, tile_steps = array<i64: 2, 0>, on_chip, resident = array<i64: {{[0-9]+}}, 64>}>

// Before plan-memory the pass only marks; plan-memory plans the regions.
// BEFORE:     "aic_core.dma_store"(%{{.*}}) <{target = @mm, {{.*}} on_chip, resident = array<i64: {{[0-9]+}}, 64>}>

// With 380 bytes of VTCM (the matmul re-tiled into 4 tiles takes 336) no region fits
// above the tasks' buffers: everything goes through DDR, nothing fails.
// SHORT-NOT:  on_chip
// SHORT:      "aic_core.dma_store"(%{{.*}}) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}>

// LEVEL: qaicc-opt: error: keep-on-chip: the module has no aic_core.program; run convert-aic-graph-to-aic-core first

builtin.module {
  func.func @main_graph(%x: tensor<8x16xf32> {onnx.name = "x"}) -> (tensor<8x4xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<16x4xf32>>}> : () -> tensor<16x4xf32>
    %mm = "aic_graph.matmul"(%x, %w) {onnx_node_name = "mm", aic.blocks = [array<i64: 0, 0, 0, 4, 4>, array<i64: 1, 4, 0, 4, 4>], aic.tiles = 2 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
    %r = "aic_graph.unary"(%mm) <{kind = "relu"}> {onnx_node_name = "relu", aic.blocks = [array<i64: 0, 0, 0, 4, 4>, array<i64: 1, 4, 0, 4, 4>]} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    %n = "aic_graph.unary"(%r) <{kind = "neg"}> {onnx_node_name = "neg"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    %y = "aic_graph.unary"(%n) <{kind = "abs"}> {onnx_node_name = "abs"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
    func.return %y : tensor<8x4xf32>
  }
}
