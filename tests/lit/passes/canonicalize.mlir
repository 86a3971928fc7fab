// RUN: qaicc-opt %s -p 'canonicalize' | filecheck %s

// The shape chain Shape -> Gather -> Unsqueeze -> Concat folds into one constant, the
// Identity and the inference Dropout disappear, the two Relu nodes merge (node names do
// not keep them apart), and the unused Sigmoid is erased.
// CHECK:      func.func @main_graph(%x: tensor<2x3x4xf32> {onnx.name = "x"}) -> (tensor<2x12xf32> {onnx.name = "y"}) {
// CHECK-NEXT:   %target = "onnx.Constant"() <{value = #qaicc.blob<"target" : tensor<2xi64> = [2, -1]>}>
// CHECK-NEXT:   %a = "onnx.Relu"(%x) {onnx_node_name = "relu_a"}
// CHECK-NEXT:   %sum = "onnx.Add"(%a, %a) {onnx_node_name = "add"}
// CHECK-NEXT:   %flat = "onnx.Reshape"(%sum, %target) {onnx_node_name = "reshape"}
// CHECK-NEXT:   func.return %flat : tensor<2x12xf32>
// CHECK-NEXT: }

builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<2x3x4xf32> {onnx.name = "x"}) -> (tensor<2x12xf32> {onnx.name = "y"}) {
    %zero = "onnx.Constant"() <{value = #qaicc.blob<"zero" : tensor<i64> = [0]>}> : () -> tensor<i64>
    %axes = "onnx.Constant"() <{value = #qaicc.blob<"axes" : tensor<1xi64> = [0]>}> : () -> tensor<1xi64>
    %minus_one = "onnx.Constant"() <{value = #qaicc.blob<"minus_one" : tensor<1xi64> = [-1]>}> : () -> tensor<1xi64>
    %xi = "onnx.Identity"(%x) {onnx_node_name = "identity"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %s = "onnx.Shape"(%xi) {onnx_node_name = "shape"} : (tensor<2x3x4xf32>) -> tensor<3xi64>
    %batch = "onnx.Gather"(%s, %zero) <{axis = 0 : i64}> {onnx_node_name = "gather"} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %batch1 = "onnx.Unsqueeze"(%batch, %axes) {onnx_node_name = "unsqueeze"} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
    %target = "onnx.Concat"(%batch1, %minus_one) <{axis = 0 : i64}> {onnx_node_name = "concat"} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
    %a = "onnx.Relu"(%xi) {onnx_node_name = "relu_a"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %b = "onnx.Relu"(%xi) {onnx_node_name = "relu_b"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %unused = "onnx.Sigmoid"(%a) {onnx_node_name = "unused"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %sum = "onnx.Add"(%a, %b) {onnx_node_name = "add"} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %flat = "onnx.Reshape"(%sum, %target) {onnx_node_name = "reshape"} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>
    %y, %mask = "onnx.Dropout"(%flat) <{operandSegmentSizes = array<i32: 1, 0, 0>}> {onnx_node_name = "dropout"} : (tensor<2x12xf32>) -> (tensor<2x12xf32>, tensor<2x12xi1>)
    func.return %y : tensor<2x12xf32>
  }
}
