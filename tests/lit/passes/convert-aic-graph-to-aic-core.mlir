// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core' | filecheck %s

// The matmul is split across two cores by rows (aic.blocks), each core's block in two
// tiles: one task per core whose loads and stores advance by tile_steps per tile. The
// reshape is a DDR alias; the constant weight lives in DDR.
// CHECK:      func.func @main_graph(%x: tensor<8x16xf32> {onnx.name = "x"}) -> (tensor<32xf32> {onnx.name = "y"}) {
// CHECK-NEXT:   %{{.*}} = "aic_core.launch"(%x) <{inputs = [@in.x], outputs = [@mm.view]}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "in.x", type = tensor<8x16xf32>, kind = "input", io_name = "x"}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "w", type = tensor<16x4xf32>, kind = "constant"
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "mm", type = tensor<8x4xf32>, kind = "intermediate"}>
// CHECK:      "aic_core.ddr_tensor"() <{sym_name = "mm.view", type = tensor<32xf32>, kind = "alias", alias = @mm, io_name = "y"}>
// CHECK:      "aic_core.program"() <{core = 0 : i64}> ({
// CHECK:        "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
// CHECK-NEXT:     %{{.*}} = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 2, 0>}> : () -> tensor<2x16xf32>
// CHECK-NEXT:     %{{.*}} = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<16x4xf32>
// CHECK:          "aic_graph.matmul"
// CHECK:          "aic_core.dma_store"(%{{.*}}) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 2, 0>}>
// CHECK:        "aic_core.signal"() <{semaphore = @mm.ready}>
// CHECK:      "aic_core.program"() <{core = 1 : i64}> ({
// CHECK:          "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 4, 0>, tile_steps = array<i64: 2, 0>}>

builtin.module {
  func.func @main_graph(%x: tensor<8x16xf32> {onnx.name = "x"}) -> (tensor<32xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<16x4xf32>>}> : () -> tensor<16x4xf32>
    %mm = "aic_graph.matmul"(%x, %w) {onnx_node_name = "mm", aic.blocks = [array<i64: 0, 0, 0, 4, 4>, array<i64: 1, 4, 0, 4, 4>], aic.tiles = 2 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
    %y = "aic_graph.reshape"(%mm) : (tensor<8x4xf32>) -> tensor<32xf32>
    func.return %y : tensor<32xf32>
  }
}
