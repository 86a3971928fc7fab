// RUN: qaicc-opt %s -p 'fuse-aic-graph' | filecheck %s

// A conv followed by a BatchNormalization (as convert-onnx-to-aic-graph lowers it: a
// per-channel mul and add) and a relu: one conv with the scale folded into its weight,
// the shift as its bias, and relu as its activation.
// CHECK:      %conv.weight.folded = "aic_graph.constant"() <{value = #qaicc.blob<"conv.weight.folded" : tensor<2x2x1x1xf32> = [0.065, -0.065, 1.28, 0.2]>}>
// CHECK-NEXT: %bn.shift = "aic_graph.constant"() <{value = #qaicc.blob<"bn.shift" : tensor<2xf32> = [0.25, -1.0]>}>
// CHECK-NEXT: %features = "aic_graph.conv"(%image, %conv.weight.folded, %bn.shift) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, activation = "relu"}>

// MatMul + Add(bias) + GELU (x * 0.5 * (1 + erf(x / sqrt(2)))): one matmul.
// CHECK:      %gelu = "aic_graph.matmul"(%tokens, %fc.weight, %fc.bias) <{activation = "gelu"}> : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>

// LayerNorm (mean, sub, pow, mean, add eps, sqrt, div, mul gamma, add beta).
// CHECK-NEXT: %ln.gamma = "aic_graph.constant"() <{value = #qaicc.blob<"ln.gamma" : tensor<4xf32> = [1.0, 2.0, 3.0, 4.0]>}>
// CHECK-NEXT: %ln.beta = "aic_graph.constant"() <{value = #qaicc.blob<"ln.beta" : tensor<4xf32> = [0.0, 1.0, 0.0, 1.0]>}>
// CHECK-NEXT: %ln = "aic_graph.layer_norm"(%gelu, %ln.gamma, %ln.beta) <{axis = 2 : i64, epsilon = 1.000000e-05 : f32}>

// Softmax (exp(x - max) / sum).
// CHECK-NEXT: %probs = "aic_graph.softmax"(%ln) <{axis = 2 : i64}>
// CHECK-NEXT: func.return %features, %probs
// CHECK-NOT:  aic_graph.binary
// CHECK-NOT:  aic_graph.unary

builtin.module {
  func.func @main_graph(%image: tensor<1x2x4x4xf32> {onnx.name = "image"}, %tokens: tensor<1x3x4xf32> {onnx.name = "tokens"}) -> (tensor<1x2x4x4xf32> {onnx.name = "features"}, tensor<1x3x4xf32> {onnx.name = "probs"}) {
    %conv.weight = "aic_graph.constant"() <{value = #qaicc.blob<"conv.weight" : tensor<2x2x1x1xf32> = [0.13, -0.13, 0.64, 0.1]>}> : () -> tensor<2x2x1x1xf32>
    %conv = "aic_graph.conv"(%image, %conv.weight) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64}> : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %bn.scale = "aic_graph.constant"() <{value = #qaicc.blob<"bn.scale" : tensor<2x1x1xf32> = [0.5, 2.0]>}> : () -> tensor<2x1x1xf32>
    %bn.mul = "aic_graph.binary"(%conv, %bn.scale) <{kind = "mul"}> : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %bn.shift = "aic_graph.constant"() <{value = #qaicc.blob<"bn.shift" : tensor<2x1x1xf32> = [0.25, -1.0]>}> : () -> tensor<2x1x1xf32>
    %bn = "aic_graph.binary"(%bn.mul, %bn.shift) <{kind = "add"}> : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %features = "aic_graph.unary"(%bn) <{kind = "relu"}> : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %fc.weight = "aic_graph.constant"() <{value = #qaicc.blob<"fc.weight" : tensor<4x4xf32> = [-0.54, 0.36, 1.3, 0.95, -0.7, -1.27, -0.62, 0.04, -2.33, -0.22, -1.25, -0.73, -0.54, -0.32, 0.41, 1.04]>}> : () -> tensor<4x4xf32>
    %mm = "aic_graph.matmul"(%tokens, %fc.weight) : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
    %fc.bias = "aic_graph.constant"() <{value = #qaicc.blob<"fc.bias" : tensor<4xf32> = [0.1, 0.2, 0.3, 0.4]>}> : () -> tensor<4xf32>
    %linear = "aic_graph.binary"(%mm, %fc.bias) <{kind = "add"}> : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
    %sqrt2 = "aic_graph.constant"() <{value = #qaicc.blob<"sqrt2" : tensor<f32> = [1.4142135]>}> : () -> tensor<f32>
    %scaled = "aic_graph.binary"(%linear, %sqrt2) <{kind = "div"}> : (tensor<1x3x4xf32>, tensor<f32>) -> tensor<1x3x4xf32>
    %erf = "aic_graph.unary"(%scaled) <{kind = "erf"}> : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
    %one = "aic_graph.constant"() <{value = #qaicc.blob<"one" : tensor<f32> = [1.0]>}> : () -> tensor<f32>
    %one_plus = "aic_graph.binary"(%erf, %one) <{kind = "add"}> : (tensor<1x3x4xf32>, tensor<f32>) -> tensor<1x3x4xf32>
    %half = "aic_graph.constant"() <{value = #qaicc.blob<"half" : tensor<f32> = [0.5]>}> : () -> tensor<f32>
    %half_x = "aic_graph.binary"(%linear, %half) <{kind = "mul"}> : (tensor<1x3x4xf32>, tensor<f32>) -> tensor<1x3x4xf32>
    %gelu = "aic_graph.binary"(%half_x, %one_plus) <{kind = "mul"}> : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
    %mean = "aic_graph.reduce"(%gelu) <{kind = "mean", axes = array<i64: 2>, keepdims = true}> : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
    %centered = "aic_graph.binary"(%gelu, %mean) <{kind = "sub"}> : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
    %two = "aic_graph.constant"() <{value = #qaicc.blob<"two" : tensor<f32> = [2.0]>}> : () -> tensor<f32>
    %square = "aic_graph.binary"(%centered, %two) <{kind = "pow"}> : (tensor<1x3x4xf32>, tensor<f32>) -> tensor<1x3x4xf32>
    %variance = "aic_graph.reduce"(%square) <{kind = "mean", axes = array<i64: 2>, keepdims = true}> : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
    %eps = "aic_graph.constant"() <{value = #qaicc.blob<"eps" : tensor<f32> = [1.0e-05]>}> : () -> tensor<f32>
    %var_eps = "aic_graph.binary"(%variance, %eps) <{kind = "add"}> : (tensor<1x3x1xf32>, tensor<f32>) -> tensor<1x3x1xf32>
    %std = "aic_graph.unary"(%var_eps) <{kind = "sqrt"}> : (tensor<1x3x1xf32>) -> tensor<1x3x1xf32>
    %normalized = "aic_graph.binary"(%centered, %std) <{kind = "div"}> : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
    %gamma = "aic_graph.constant"() <{value = #qaicc.blob<"ln.gamma" : tensor<4xf32> = [1.0, 2.0, 3.0, 4.0]>}> : () -> tensor<4xf32>
    %ln_scaled = "aic_graph.binary"(%normalized, %gamma) <{kind = "mul"}> : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
    %beta = "aic_graph.constant"() <{value = #qaicc.blob<"ln.beta" : tensor<4xf32> = [0.0, 1.0, 0.0, 1.0]>}> : () -> tensor<4xf32>
    %ln = "aic_graph.binary"(%ln_scaled, %beta) <{kind = "add"}> : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
    %max = "aic_graph.reduce"(%ln) <{kind = "max", axes = array<i64: 2>, keepdims = true}> : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
    %shifted = "aic_graph.binary"(%ln, %max) <{kind = "sub"}> : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
    %exp = "aic_graph.unary"(%shifted) <{kind = "exp"}> : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
    %sum = "aic_graph.reduce"(%exp) <{kind = "sum", axes = array<i64: 2>, keepdims = true}> : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
    %probs = "aic_graph.binary"(%exp, %sum) <{kind = "div"}> : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
    func.return %features, %probs : tensor<1x2x4x4xf32>, tensor<1x3x4xf32>
  }
}
