// RUN: qaicc-opt %s -p 'convert-onnx-to-aic-graph' | filecheck %s
// RUN: sed -e 's/"linear"/"cubic"/' -e 's/"onnx.Softmax"/"onnx.Hardmax"/' %s | not qaicc-opt -p 'convert-onnx-to-aic-graph' 2>&1 | filecheck %s --check-prefix=ERROR
// RUN: rm -rf %t && mkdir -p %t && cd %t && qaicc-opt --operators-supported && filecheck %s --check-prefix=OPS --input-file=OnnxSupportedOperators.txt

// The signature and its attributes stay; the Constant becomes aic_graph.constant with the
// same blob; Conv, BatchNormalization (folded into two per-channel constants), Relu,
// Gemm, Resize, Softmax and the unused Sigmoid (erased) lower; node names stay.
// CHECK:      func.func @main_graph(%x: tensor<1x2x4x4xf32> {onnx.name = "x"}) -> (tensor<1x3xf32> {onnx.name = "y"}, tensor<1x2x8x8xf32> {onnx.name = "up"})
// CHECK-DAG:  %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<2x2x3x3xf32>>}> : () -> tensor<2x2x3x3xf32>
// CHECK:      %c = "aic_graph.conv"(%x, %w) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64}> {onnx_node_name = "conv"} : (tensor<1x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<1x2x4x4xf32>
// CHECK:      %[[SCALE:.*]] = "aic_graph.constant"() <{value = #qaicc.blob<"bn.scale" : tensor<2x1x1xf32> = [0.999995, 0.99999875]>}> {onnx_node_name = "bn"}
// CHECK:      %[[SHIFT:.*]] = "aic_graph.constant"() <{value = #qaicc.blob<"bn.shift" : tensor<2x1x1xf32> = [0.5, -1.4999988]>}> {onnx_node_name = "bn"}
// CHECK:      %[[MUL:.*]] = "aic_graph.binary"(%c, %[[SCALE]]) <{kind = "mul"}> {onnx_node_name = "bn"}
// CHECK:      %[[BN:.*]] = "aic_graph.binary"(%[[MUL]], %[[SHIFT]]) <{kind = "add"}> {onnx_node_name = "bn"} : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK:      %r = "aic_graph.unary"(%[[BN]]) <{kind = "relu"}> {onnx_node_name = "relu"}
// CHECK:      %p = "aic_graph.reduce"(%r) <{kind = "mean", axes = array<i64: 2, 3>, keepdims = true}> {onnx_node_name = "gap"}
// CHECK:      %f = "aic_graph.reshape"(%p) {onnx_node_name = "flatten"} : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
// CHECK:      %g = "aic_graph.matmul"(%f, %fc, %fc_bias) <{transpose_b = true}> {onnx_node_name = "gemm"} : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
// CHECK:      %y = "aic_graph.softmax"(%g) <{axis = 1 : i64}> {onnx_node_name = "softmax"}
// CHECK:      %up = "aic_graph.resize"(%r) <{mode = "linear", coordinate_transformation_mode = "half_pixel"}> {onnx_node_name = "resize"}
// CHECK-NOT:  onnx.
// CHECK:      func.return %y, %up : tensor<1x3xf32>, tensor<1x2x8x8xf32>

// ERROR:      qaicc-opt: error: convert-onnx-to-aic-graph: 2 unsupported part(s) in the model:
// ERROR-NEXT:   - Hardmax: 1 node(s) not converted: 'softmax'
// ERROR-NEXT:   - Resize: 1 node(s) not converted: 'resize' (mode cubic is not supported)

// OPS: Abs: float and integer types
// OPS: Resize: opset 11 and later; modes nearest, linear;
// OPS: Xor: bool tensors

builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<1x2x4x4xf32> {onnx.name = "x"}) -> (tensor<1x3xf32> {onnx.name = "y"}, tensor<1x2x8x8xf32> {onnx.name = "up"}) {
    %w = "onnx.Constant"() <{value = #qaicc.blob<"w" : tensor<2x2x3x3xf32>>}> {onnx.initializer} : () -> tensor<2x2x3x3xf32>
    %scale = "onnx.Constant"() <{value = #qaicc.blob<"scale" : tensor<2xf32> = [1.0, 2.0]>}> {onnx.initializer} : () -> tensor<2xf32>
    %shift = "onnx.Constant"() <{value = #qaicc.blob<"shift" : tensor<2xf32> = [0.5, -0.5]>}> {onnx.initializer} : () -> tensor<2xf32>
    %mean = "onnx.Constant"() <{value = #qaicc.blob<"mean" : tensor<2xf32> = [0.0, 1.0]>}> {onnx.initializer} : () -> tensor<2xf32>
    %var = "onnx.Constant"() <{value = #qaicc.blob<"var" : tensor<2xf32> = [1.0, 4.0]>}> {onnx.initializer} : () -> tensor<2xf32>
    %axes = "onnx.Constant"() <{value = #qaicc.blob<"axes" : tensor<2xi64> = [2, 3]>}> {onnx.initializer} : () -> tensor<2xi64>
    %fc = "onnx.Constant"() <{value = #qaicc.blob<"fc" : tensor<3x2xf32> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>}> {onnx.initializer} : () -> tensor<3x2xf32>
    %fc_bias = "onnx.Constant"() <{value = #qaicc.blob<"fc_bias" : tensor<3xf32> = [0.1, 0.2, 0.3]>}> {onnx.initializer} : () -> tensor<3xf32>
    %scales = "onnx.Constant"() <{value = #qaicc.blob<"scales" : tensor<4xf32> = [1.0, 1.0, 2.0, 2.0]>}> {onnx.initializer} : () -> tensor<4xf32>
    %c = "onnx.Conv"(%x, %w) <{pads = array<i64: 1, 1, 1, 1>}> {onnx_node_name = "conv"} : (tensor<1x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<1x2x4x4xf32>
    %bn = "onnx.BatchNormalization"(%c, %scale, %shift, %mean, %var) <{resultSegmentSizes = array<i32: 1, 0, 0>}> {onnx_node_name = "bn"} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
    %r = "onnx.Relu"(%bn) {onnx_node_name = "relu"} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %unused = "onnx.Sigmoid"(%r) {onnx_node_name = "unused"} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %p = "onnx.ReduceMean"(%r, %axes) {onnx_node_name = "gap"} : (tensor<1x2x4x4xf32>, tensor<2xi64>) -> tensor<1x2x1x1xf32>
    %f = "onnx.Flatten"(%p) {onnx_node_name = "flatten"} : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
    %g = "onnx.Gemm"(%f, %fc, %fc_bias) <{transB = 1 : i64}> {onnx_node_name = "gemm"} : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
    %y = "onnx.Softmax"(%g) <{axis = 1 : i64}> {onnx_node_name = "softmax"} : (tensor<1x3xf32>) -> tensor<1x3xf32>
    %up = "onnx.Resize"(%r, %scales) <{mode = "linear", operandSegmentSizes = array<i32: 1, 0, 1, 0>}> {onnx_node_name = "resize"} : (tensor<1x2x4x4xf32>, tensor<4xf32>) -> tensor<1x2x8x8xf32>
    func.return %y, %up : tensor<1x3xf32>, tensor<1x2x8x8xf32>
  }
}
