// RUN: qaicc-opt %s -p 'bind-symbols{batch_size=2 sequence=3},shape-inference' | filecheck %s
// RUN: not qaicc-opt %s -p 'shape-inference' 2>&1 | filecheck %s --check-prefix=UNBOUND
// RUN: not qaicc-opt %s -p 'bind-symbols{batch_size=2},shape-inference' 2>&1 | filecheck %s --check-prefix=PARTIAL

// Every value becomes static: the Reshape's target is computed from the input's shape
// (Shape -> Gather -> Unsqueeze -> Concat), the Range's limit too.
// CHECK:      func.func @main_graph(%x: tensor<2x3x8xf32> {onnx.name = "x"}) -> (tensor<2x3x2x4xf32> {onnx.name = "y"}, tensor<3xi64> {onnx.name = "positions"})
// CHECK:      %shape = "onnx.Shape"(%x) {onnx_node_name = "shape"} : (tensor<2x3x8xf32>) -> tensor<3xi64>
// CHECK:      %seq = "onnx.Gather"(%shape, %one) <{axis = 0 : i64}> {onnx_node_name = "g1"} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
// CHECK:      %target = "onnx.Concat"(%batch1, %seq1, %heads) <{axis = 0 : i64}> {onnx_node_name = "concat"} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
// CHECK:      %y = "onnx.Reshape"(%x, %target) {onnx_node_name = "reshape"} : (tensor<2x3x8xf32>, tensor<4xi64>) -> tensor<2x3x2x4xf32>
// CHECK:      %positions = "onnx.Range"(%zero, %seq, %one) {onnx_node_name = "range"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
// CHECK:      func.return %y, %positions : tensor<2x3x2x4xf32>, tensor<3xi64>

// UNBOUND: qaicc-opt: error: shape-inference: unbound symbolic dimension(s): 'batch_size' (inputs x); 'sequence' (inputs x); bind them first with bind-symbols{batch_size=N sequence=N} (qaic-exec: -onnx-define-symbol=batch_size,N -onnx-define-symbol=sequence,N)
// PARTIAL: qaicc-opt: error: shape-inference: unbound symbolic dimension(s): 'sequence' (inputs x); bind them first with bind-symbols{sequence=N}

builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<?x?x8xf32> {onnx.name = "x", onnx.dim_params = "0:batch_size,1:sequence"}) -> (tensor<?x?x?x?xf32> {onnx.name = "y"}, tensor<?xi64> {onnx.name = "positions"}) {
    %zero = "onnx.Constant"() <{value = #qaicc.blob<"zero" : tensor<i64> = [0]>}> {onnx.initializer} : () -> tensor<i64>
    %one = "onnx.Constant"() <{value = #qaicc.blob<"one" : tensor<i64> = [1]>}> {onnx.initializer} : () -> tensor<i64>
    %axes = "onnx.Constant"() <{value = #qaicc.blob<"axes" : tensor<1xi64> = [0]>}> {onnx.initializer} : () -> tensor<1xi64>
    %heads = "onnx.Constant"() <{value = #qaicc.blob<"heads" : tensor<2xi64> = [2, 4]>}> {onnx.initializer} : () -> tensor<2xi64>
    %shape = "onnx.Shape"(%x) {onnx_node_name = "shape"} : (tensor<?x?x8xf32>) -> tensor<3xi64>
    %batch = "onnx.Gather"(%shape, %zero) <{axis = 0 : i64}> {onnx_node_name = "g0"} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %seq = "onnx.Gather"(%shape, %one) <{axis = 0 : i64}> {onnx_node_name = "g1"} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %batch1 = "onnx.Unsqueeze"(%batch, %axes) {onnx_node_name = "u0"} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
    %seq1 = "onnx.Unsqueeze"(%seq, %axes) {onnx_node_name = "u1"} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
    %target = "onnx.Concat"(%batch1, %seq1, %heads) <{axis = 0 : i64}> {onnx_node_name = "concat"} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
    %y = "onnx.Reshape"(%x, %target) {onnx_node_name = "reshape"} : (tensor<?x?x8xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
    %positions = "onnx.Range"(%zero, %seq, %one) {onnx_node_name = "range"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    func.return %y, %positions : tensor<?x?x?x?xf32>, tensor<?xi64>
  }
}
