// RUN: not qaicc-opt %s -p 'no-such-pass' 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not qaicc-opt %s -p 'cse{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not qaicc-opt %s 2>&1 | filecheck %s --check-prefix=VERIFY

// PASS: qaicc-opt: error: unknown pass 'no-such-pass' in -p
// PASS-NOT: Traceback
// OPTION: qaicc-opt: error: bad option for pass 'cse'
// VERIFY: qaicc-opt: error: the input IR does not verify: {{.*}}onnx.Add{{.*}}type constraint T

builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<4xf32>, %y: tensor<4xi64>) -> tensor<4xf32> {
    %z = "onnx.Add"(%x, %y) : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
    func.return %z : tensor<4xf32>
  }
}
