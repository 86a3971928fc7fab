// RUN: qaicc-opt %s -p 'bind-symbols{batch_size=2}' | filecheck %s
// RUN: qaicc-opt %s -p 'bind-symbols{batch_size=2 sequence=5}' | filecheck %s --check-prefix=BOTH
// RUN: qaicc-opt %s -p 'bind-symbols{batch=2}' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not qaicc-opt %s -p 'bind-symbols{batch_size=0}' 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not qaicc-opt %s -p 'bind-symbols{mask_len=3}' 2>&1 | filecheck %s --check-prefix=CONTRADICTION

// Only the named dims of the inputs and outputs change (with the returned value); the
// values inside keep their types until shape-inference runs.
// CHECK:      func.func @main_graph(%x: tensor<2x?x4xf32> {onnx.name = "x", onnx.dim_params = "1:sequence"}, %mask: tensor<2x8xi64> {onnx.name = "mask", onnx.dim_params = "1:mask_len"})
// CHECK-SAME: -> (tensor<2x?x4xf32> {onnx.name = "y", onnx.dim_params = "1:sequence"})
// CHECK:      "onnx.Relu"(%x) {onnx_node_name = "relu"} : (tensor<2x?x4xf32>) -> tensor<?x?x4xf32>
// CHECK:      "onnx.Neg"(%r) {onnx_node_name = "neg"} : (tensor<?x?x4xf32>) -> tensor<2x?x4xf32>
// CHECK:      func.return %y : tensor<2x?x4xf32>

// BOTH:      func.func @main_graph(%x: tensor<2x5x4xf32> {onnx.name = "x"}, %mask: tensor<2x8xi64> {onnx.name = "mask", onnx.dim_params = "1:mask_len"})
// BOTH-SAME: -> (tensor<2x5x4xf32> {onnx.name = "y"})

// UNKNOWN: qaicc-opt: warning: bind-symbols: the model has no symbol 'batch'; the binding batch=2 is ignored (the model's symbols: batch_size, mask_len, sequence)
// UNKNOWN: func.func @main_graph(%x: tensor<?x?x4xf32>

// VALUE: qaicc-opt: error: bind-symbols: symbol 'batch_size' must be bound to a positive integer, got 0 (write bind-symbols{batch_size=N})

// CONTRADICTION: qaicc-opt: error: bind-symbols: mask_len=3 contradicts input 'mask', whose dimension 1 is 8; bind mask_len=8 or fix the model

builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<?x?x4xf32> {onnx.name = "x", onnx.dim_params = "0:batch_size,1:sequence"}, %mask: tensor<?x8xi64> {onnx.name = "mask", onnx.dim_params = "0:batch_size,1:mask_len"}) -> (tensor<?x?x4xf32> {onnx.name = "y", onnx.dim_params = "0:batch_size,1:sequence"}) {
    %r = "onnx.Relu"(%x) {onnx_node_name = "relu"} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %y = "onnx.Neg"(%r) {onnx_node_name = "neg"} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    func.return %y : tensor<?x?x4xf32>
  }
}
