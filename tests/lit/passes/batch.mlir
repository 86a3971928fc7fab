// RUN: qaicc-opt %s -p 'batch{size=8}' | filecheck %s
// RUN: sed -n 's|^// UNBATCHABLE: ||p' %s | not qaicc-opt -p 'batch{size=8}' 2>&1 | filecheck %s --check-prefix=ERROR

// The leading dimension of the inputs, the outputs and every value computed from them
// is multiplied by 8; the weights stay. [1, 16, 8] -> [16, 8] batches as [128, 8]; the
// constant class token is tiled to the batch before the concat.
// CHECK:      func.func @main_graph(%x: tensor<8x16x8xf32> {onnx.name = "x"}) -> (tensor<8x17x4xf32> {onnx.name = "y"})
// CHECK-NEXT: %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<8x4xf32>>}> : () -> tensor<8x4xf32>
// CHECK-NEXT: %cls = "aic_graph.constant"() <{value = #qaicc.blob<"cls" : tensor<1x1x4xf32> = [1.0, 2.0, 3.0, 4.0]>}> : () -> tensor<1x1x4xf32>
// CHECK-NEXT: %rows = "aic_graph.reshape"(%x) : (tensor<8x16x8xf32>) -> tensor<128x8xf32>
// CHECK-NEXT: %h = "aic_graph.matmul"(%rows, %w) : (tensor<128x8xf32>, tensor<8x4xf32>) -> tensor<128x4xf32>
// CHECK-NEXT: %tokens = "aic_graph.reshape"(%h) : (tensor<128x4xf32>) -> tensor<8x16x4xf32>
// CHECK-NEXT: %cls.tiled = "aic_graph.tile"(%cls) <{repeats = array<i64: 8, 1, 1>}> : (tensor<1x1x4xf32>) -> tensor<8x1x4xf32>
// CHECK-NEXT: %y = "aic_graph.concat"(%cls.tiled, %tokens) <{axis = 1 : i64}> : (tensor<8x1x4xf32>, tensor<8x16x4xf32>) -> tensor<8x17x4xf32>
// CHECK-NEXT: func.return %y : tensor<8x17x4xf32>

// A sum over the batch axis mixes samples: an error naming the op.
// ERROR: qaicc-opt: error: batch: cannot batch 'aic_graph.reduce' ('sum_over_batch'): it reduces over the batch axis; the batch dimension cannot be identified
// UNBATCHABLE: builtin.module {
// UNBATCHABLE:   func.func @main_graph(%x: tensor<2x3xf32> {onnx.name = "x"}) -> (tensor<3xf32> {onnx.name = "y"}) {
// UNBATCHABLE:     %y = "aic_graph.reduce"(%x) <{kind = "sum", axes = array<i64: 0>, keepdims = false}> {onnx_node_name = "sum_over_batch"} : (tensor<2x3xf32>) -> tensor<3xf32>
// UNBATCHABLE:     func.return %y : tensor<3xf32>
// UNBATCHABLE:   }
// UNBATCHABLE: }

builtin.module {
  func.func @main_graph(%x: tensor<1x16x8xf32> {onnx.name = "x"}) -> (tensor<1x17x4xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<8x4xf32>>}> : () -> tensor<8x4xf32>
    %cls = "aic_graph.constant"() <{value = #qaicc.blob<"cls" : tensor<1x1x4xf32> = [1.0, 2.0, 3.0, 4.0]>}> : () -> tensor<1x1x4xf32>
    %rows = "aic_graph.reshape"(%x) : (tensor<1x16x8xf32>) -> tensor<16x8xf32>
    %h = "aic_graph.matmul"(%rows, %w) : (tensor<16x8xf32>, tensor<8x4xf32>) -> tensor<16x4xf32>
    %tokens = "aic_graph.reshape"(%h) : (tensor<16x4xf32>) -> tensor<1x16x4xf32>
    %y = "aic_graph.concat"(%cls, %tokens) <{axis = 1 : i64}> : (tensor<1x1x4xf32>, tensor<1x16x4xf32>) -> tensor<1x17x4xf32>
    func.return %y : tensor<1x17x4xf32>
  }
}
