// RUN: qaicc-opt %s | filecheck %s
// RUN: qaicc-opt %s | qaicc-opt | filecheck %s
// RUN: qaicc-opt %s --print-large-constants | filecheck %s --check-prefix=FULL

// CHECK: func.func @main_graph(%x: tensor<?x4xf32> {onnx.name = "x", onnx.dim_params = "0:batch_size"})
// CHECK: "onnx.Constant"() <{value = #qaicc.blob<"w" : tensor<4x20xf32>>}> {onnx.initializer}
// CHECK: "onnx.Constant"() <{value = #qaicc.blob<"shape" : tensor<2xi64> = [-1, 20]>}>
// CHECK: "onnx.MatMul"(%x, %w) {onnx_node_name = "mm"}
// CHECK: "onnx.Split"(%{{.*}}) <{axis = 1 : i64, num_outputs = 2 : i64}>
// FULL: #qaicc.blob<"w" : tensor<4x20xf32> = "0x0000803F

builtin.module attributes {onnx.opset = 18 : i64, onnx.ir_version = 8 : i64} {
  func.func @main_graph(%x: tensor<?x4xf32> {onnx.name = "x", onnx.dim_params = "0:batch_size"}) -> (tensor<?x10xf32> {onnx.name = "a"}, tensor<?x10xf32> {onnx.name = "b"}) {
    %w = "onnx.Constant"() <{value = #qaicc.blob<"w" : tensor<4x20xf32> = "0x0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F">}> {onnx.initializer} : () -> tensor<4x20xf32>
    %shape = "onnx.Constant"() <{value = #qaicc.blob<"shape" : tensor<2xi64> = [-1, 20]>}> {onnx.initializer} : () -> tensor<2xi64>
    %mm = "onnx.MatMul"(%x, %w) {onnx_node_name = "mm"} : (tensor<?x4xf32>, tensor<4x20xf32>) -> tensor<?x20xf32>
    %r = "onnx.Reshape"(%mm, %shape) {onnx_node_name = "rs"} : (tensor<?x20xf32>, tensor<2xi64>) -> tensor<?x20xf32>
    %a, %b = "onnx.Split"(%r) <{axis = 1 : i64, num_outputs = 2 : i64}> {onnx_node_name = "sp"} : (tensor<?x20xf32>) -> (tensor<?x10xf32>, tensor<?x10xf32>)
    func.return %a, %b : tensor<?x10xf32>, tensor<?x10xf32>
  }
}
