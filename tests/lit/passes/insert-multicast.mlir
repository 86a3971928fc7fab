// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,insert-multicast' | filecheck %s
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,insert-multicast,insert-multicast' | filecheck %s
// RUN: not qaicc-opt %s -p 'insert-multicast' 2>&1 | filecheck %s --check-prefix=LEVEL

// The matmul is split by rows over cores 0 and 1: both load all of w (one DDR read,
// multicast to both) and their own rows of x (not multicast). The relu on core 0 and
// the copy of x on core 1 are different ops: their loads of x are never grouped.
// CHECK:      "aic_core.program"() <{core = 0 : i64}> ({
// CHECK:        "aic_core.task"() <{op_name = "mm", op_index = 0 : i64
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 2, 0>}> : () -> tensor<2x16xf32>
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, multicast_cores = array<i64: 0, 1>}> : () -> tensor<16x4xf32>
// CHECK:        "aic_core.task"() <{op_name = "relu", op_index = 1 : i64
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<8x16xf32>
// CHECK:      "aic_core.program"() <{core = 1 : i64}> ({
// CHECK:        "aic_core.task"() <{op_name = "mm", op_index = 0 : i64
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 4, 0>, tile_steps = array<i64: 2, 0>}> : () -> tensor<2x16xf32>
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, multicast_cores = array<i64: 0, 1>}> : () -> tensor<16x4xf32>
// CHECK:        "aic_core.task"() <{op_name = "neg", op_index = 2 : i64
// CHECK-NEXT:     "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<8x16xf32>

// LEVEL: qaicc-opt: error: insert-multicast: the module has no aic_core.program; run convert-aic-graph-to-aic-core first

builtin.module {
  func.func @main_graph(%x: tensor<8x16xf32> {onnx.name = "x"}) -> (tensor<8x4xf32> {onnx.name = "y"}, tensor<8x16xf32> {onnx.name = "r"}, tensor<8x16xf32> {onnx.name = "n"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<16x4xf32>>}> : () -> tensor<16x4xf32>
    %mm = "aic_graph.matmul"(%x, %w) {onnx_node_name = "mm", aic.blocks = [array<i64: 0, 0, 0, 4, 4>, array<i64: 1, 4, 0, 4, 4>], aic.tiles = 2 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
    %r = "aic_graph.unary"(%x) <{kind = "relu"}> {onnx_node_name = "relu", aic.blocks = [array<i64: 0, 0, 0, 8, 16>]} : (tensor<8x16xf32>) -> tensor<8x16xf32>
    %n = "aic_graph.unary"(%x) <{kind = "neg"}> {onnx_node_name = "neg", aic.blocks = [array<i64: 1, 0, 0, 8, 16>]} : (tensor<8x16xf32>) -> tensor<8x16xf32>
    func.return %mm, %r, %n : tensor<8x4xf32>, tensor<8x16xf32>, tensor<8x16xf32>
  }
}
