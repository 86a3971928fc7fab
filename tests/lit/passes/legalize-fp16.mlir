// RUN: qaicc-opt %s -p 'legalize-fp16' 2>/dev/null | filecheck %s
// RUN: qaicc-opt %s -p 'legalize-fp16' 2>&1 >/dev/null | filecheck %s --check-prefix=WARN

// The constant with float32's lowest value is clipped, with one warning naming it.
// WARN:       qaicc-opt: warning: legalize-fp16: constant 'mask.min': 2 of 4 values outside the float16 range clipped to +-65504
// WARN-NOT:   warning

// The signature stays; float inputs are cast to float16, float outputs back; the
// integer input and the bool compare are untouched.
// CHECK:      func.func @main_graph(%x: tensor<2x4xf32> {onnx.name = "x"}, %ids: tensor<2xi64> {onnx.name = "ids"}) -> (tensor<2x4xf32> {onnx.name = "y"}, tensor<2x4xi1> {onnx.name = "positive"})
// CHECK-NEXT: %{{.*}} = "aic_graph.cast"(%x) : (tensor<2x4xf32>) -> tensor<2x4xf16>
// CHECK-NEXT: %table = "aic_graph.constant"() <{value = #qaicc.blob<"table" : tensor<3x4xf16> = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]>}> : () -> tensor<3x4xf16>
// CHECK-NEXT: %mask = "aic_graph.constant"() <{value = #qaicc.blob<"mask.min" : tensor<4xf16> = [0.0, -6.55e+04, 0.0, -6.55e+04]>}> : () -> tensor<4xf16>
// CHECK-NEXT: %table_zero = "aic_graph.constant"() <{value = #qaicc.blob<"zero" : tensor<f16> = [0.0]>}> : () -> tensor<f16>
// CHECK-NEXT: %rows = "aic_graph.gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<3x4xf16>, tensor<2xi64>) -> tensor<2x4xf16>
// CHECK-NEXT: %sum = "aic_graph.binary"(%{{.*}}, %rows) <{kind = "add"}> : (tensor<2x4xf16>, tensor<2x4xf16>) -> tensor<2x4xf16>
// CHECK-NEXT: %masked = "aic_graph.binary"(%sum, %mask) <{kind = "add"}> : (tensor<2x4xf16>, tensor<4xf16>) -> tensor<2x4xf16>
// CHECK-NEXT: %probs = "aic_graph.softmax"(%masked) <{axis = 1 : i64}> : (tensor<2x4xf16>) -> tensor<2x4xf16>
// CHECK-NEXT: %positive = "aic_graph.binary"(%sum, %table_zero) <{kind = "greater"}> : (tensor<2x4xf16>, tensor<f16>) -> tensor<2x4xi1>
// CHECK-NEXT: %{{.*}} = "aic_graph.cast"(%probs) : (tensor<2x4xf16>) -> tensor<2x4xf32>
// CHECK-NEXT: func.return %{{.*}}, %positive : tensor<2x4xf32>, tensor<2x4xi1>

builtin.module {
  func.func @main_graph(%x: tensor<2x4xf32> {onnx.name = "x"}, %ids: tensor<2xi64> {onnx.name = "ids"}) -> (tensor<2x4xf32> {onnx.name = "y"}, tensor<2x4xi1> {onnx.name = "positive"}) {
    %table = "aic_graph.constant"() <{value = #qaicc.blob<"table" : tensor<3x4xf32> = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]>}> : () -> tensor<3x4xf32>
    %mask = "aic_graph.constant"() <{value = #qaicc.blob<"mask.min" : tensor<4xf32> = [0.0, -3.4028235e+38, 0.0, -3.4028235e+38]>}> : () -> tensor<4xf32>
    %table_zero = "aic_graph.constant"() <{value = #qaicc.blob<"zero" : tensor<f64> = [0.0]>}> : () -> tensor<f64>
    %rows = "aic_graph.gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
    %sum = "aic_graph.binary"(%x, %rows) <{kind = "add"}> : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %masked = "aic_graph.binary"(%sum, %mask) <{kind = "add"}> : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %probs = "aic_graph.softmax"(%masked) <{axis = 1 : i64}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %positive = "aic_graph.binary"(%sum, %table_zero) <{kind = "greater"}> : (tensor<2x4xf32>, tensor<f64>) -> tensor<2x4xi1>
    func.return %probs, %positive : tensor<2x4xf32>, tensor<2x4xi1>
  }
}
