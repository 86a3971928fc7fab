// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core' | filecheck %s --check-prefix=BEFORE
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,schedule' | filecheck %s
// RUN: qaicc-opt %s -p 'convert-aic-graph-to-aic-core,schedule,plan-memory,schedule' | filecheck %s
// RUN: not qaicc-opt %s -p 'schedule' 2>&1 | filecheck %s --check-prefix=LEVEL

// a and c run on core 0, d (a long matmul on a) and b on core 1. In the function's
// order core 1 computes d before b, and core 0 waits for b all that time; b needs
// nothing from d, so the schedule moves b (with its signal) first on core 1.
// BEFORE:      "aic_core.program"() <{core = 1 : i64}> ({
// BEFORE-NEXT:   "aic_core.wait"() <{semaphore = @a.ready, count = 1 : i64}>
// BEFORE-NEXT:   "aic_core.task"() <{op_name = "d"
// BEFORE:        "aic_core.signal"() <{semaphore = @d.ready}>
// BEFORE-NEXT:   "aic_core.task"() <{op_name = "b"

// CHECK:      "aic_core.program"() <{core = 0 : i64}> ({
// CHECK-NEXT:   "aic_core.task"() <{op_name = "a"
// CHECK:        "aic_core.signal"() <{semaphore = @a.ready}>
// CHECK-NEXT:   "aic_core.wait"() <{semaphore = @a.ready, count = 1 : i64}>
// CHECK-NEXT:   "aic_core.wait"() <{semaphore = @b.ready, count = 1 : i64}>
// CHECK-NEXT:   "aic_core.task"() <{op_name = "c"
// CHECK:      "aic_core.program"() <{core = 1 : i64}> ({
// CHECK-NEXT:   "aic_core.task"() <{op_name = "b"
// CHECK:        "aic_core.signal"() <{semaphore = @b.ready}>
// CHECK-NEXT:   "aic_core.wait"() <{semaphore = @a.ready, count = 1 : i64}>
// CHECK-NEXT:   "aic_core.task"() <{op_name = "d"
// CHECK:        "aic_core.signal"() <{semaphore = @d.ready}>
// CHECK-NEXT: }) : () -> ()

// LEVEL: qaicc-opt: error: schedule: the module has no aic_core.program; run convert-aic-graph-to-aic-core first

builtin.module {
  func.func @main_graph(%x: tensor<32x32xf32> {onnx.name = "x"}) -> (tensor<32x32xf32> {onnx.name = "c"}, tensor<32x32xf32> {onnx.name = "d"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<32x32xf32>>}> : () -> tensor<32x32xf32>
    %a = "aic_graph.unary"(%x) <{kind = "relu"}> {onnx_node_name = "a", aic.blocks = [array<i64: 0, 0, 0, 32, 32>]} : (tensor<32x32xf32>) -> tensor<32x32xf32>
    %d = "aic_graph.matmul"(%a, %w) {onnx_node_name = "d", aic.blocks = [array<i64: 1, 0, 0, 32, 32>]} : (tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<32x32xf32>
    %b = "aic_graph.unary"(%x) <{kind = "neg"}> {onnx_node_name = "b", aic.blocks = [array<i64: 1, 0, 0, 32, 32>]} : (tensor<32x32xf32>) -> tensor<32x32xf32>
    %c = "aic_graph.binary"(%a, %b) <{kind = "add"}> {onnx_node_name = "c", aic.blocks = [array<i64: 0, 0, 0, 32, 32>]} : (tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<32x32xf32>
    func.return %c, %d : tensor<32x32xf32>, tensor<32x32xf32>
  }
}
