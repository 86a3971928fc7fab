// legalize-fp16{float16-io=...}: the named inputs and outputs become float16 at the
// boundary (qaic-exec -custom-IO-list-file with Precision: float16); the others keep
// their type behind casts.
// RUN: qaicc-opt %s -p 'legalize-fp16{float16-io="past","logits"}' | filecheck %s
// RUN: not qaicc-opt %s -p 'legalize-fp16{float16-io="ids"}' 2>&1 | filecheck %s --check-prefix=ERR

// CHECK:      func.func @main_graph(%x: tensor<2x4xf32> {onnx.name = "x"}, %past: tensor<2x4xf16> {onnx.name = "past"}, %ids: tensor<2xi64> {onnx.name = "ids"}) -> (tensor<2x4xf16> {onnx.name = "logits"}, tensor<2x4xf32> {onnx.name = "y"})
// CHECK-NEXT: %{{.*}} = "aic_graph.cast"(%x) : (tensor<2x4xf32>) -> tensor<2x4xf16>
// CHECK-NEXT: %sum = "aic_graph.binary"(%{{.*}}, %past) <{kind = "add"}> : (tensor<2x4xf16>, tensor<2x4xf16>) -> tensor<2x4xf16>
// CHECK-NEXT: %{{.*}} = "aic_graph.cast"(%sum) : (tensor<2x4xf16>) -> tensor<2x4xf32>
// CHECK-NEXT: func.return %sum, %{{.*}} : tensor<2x4xf16>, tensor<2x4xf32>

// ERR: qaicc-opt: error: legalize-fp16: float16-io: 'ids' is not a float32/float64/bfloat16 input or output of @main_graph

builtin.module {
  func.func @main_graph(%x: tensor<2x4xf32> {onnx.name = "x"}, %past: tensor<2x4xf32> {onnx.name = "past"}, %ids: tensor<2xi64> {onnx.name = "ids"}) -> (tensor<2x4xf32> {onnx.name = "logits"}, tensor<2x4xf32> {onnx.name = "y"}) {
    %sum = "aic_graph.binary"(%x, %past) <{kind = "add"}> : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    func.return %sum, %sum : tensor<2x4xf32>, tensor<2x4xf32>
  }
}
