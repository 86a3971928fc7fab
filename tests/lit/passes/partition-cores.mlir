// RUN: qaicc-opt %s -p 'partition-cores{num-cores=4}' | filecheck %s
// RUN: qaicc-opt %s -p 'partition-cores{num-cores=4},convert-aic-graph-to-aic-core' | filecheck %s --check-prefix=CORE
// RUN: not qaicc-opt %s -p 'partition-cores{num-cores=17}' 2>&1 | filecheck %s --check-prefix=RANGE
// RUN: not qaicc-opt %s -p 'partition-cores{num-cores=15 target=ai100-standard}' 2>&1 | filecheck %s --check-prefix=STANDARD

// The matmul's 4 MiB weight would be read whole by every core under a row split: the
// cores share its output channels (and the weight). The relu keeps its producer's
// blocks; the softmax (over axis 1) is cut along the rows; the reshape is no task.
// CHECK:      builtin.module attributes {aic.num_cores = 4 : i64, aic.target = "ai100-pro"}
// CHECK:      "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 16, 256>, array<i64: 1, 0, 256, 16, 256>, array<i64: 2, 0, 512, 16, 256>, array<i64: 3, 0, 768, 16, 256>], aic.tiles = 1 : i64, aic.tile_axis = 0 : i64, aic.ols = 1 : i64, aic.channel_split = 4 : i64}
// CHECK:      "aic_graph.unary"(%fc) <{kind = "relu"}> {onnx_node_name = "act", aic.blocks = [array<i64: 0, 0, 0, 16, 256>, array<i64: 1, 0, 256, 16, 256>, array<i64: 2, 0, 512, 16, 256>, array<i64: 3, 0, 768, 16, 256>]
// CHECK:      "aic_graph.softmax"(%act) <{axis = 1 : i64}> {onnx_node_name = "sm", aic.blocks = [array<i64: 0, 0, 0, 4, 1024>, array<i64: 1, 4, 0, 4, 1024>, array<i64: 2, 8, 0, 4, 1024>, array<i64: 3, 12, 0, 4, 1024>]
// CHECK:      %y = "aic_graph.reshape"(%sm) : (tensor<16x1024xf32>) -> tensor<16384xf32>

// convert-aic-graph-to-aic-core takes the number of cores the module records.
// CORE:     builtin.module attributes {aic.num_cores = 4 : i64, aic.target = "ai100-pro", aic_core.num_cores = 4 : i64}
// CORE:     "aic_core.program"() <{core = 3 : i64}>
// CORE-NEXT:  "aic_core.task"() <{op_name = "fc"
// CORE-NOT: "aic_core.program"

// RANGE: qaicc-opt: error: partition-cores: num-cores must be between 1 and 16 on ai100-pro, got 17 (write partition-cores{num-cores=N})
// STANDARD: qaicc-opt: error: partition-cores: num-cores must be between 1 and 14 on ai100-standard, got 15

builtin.module {
  func.func @main_graph(%x: tensor<16x1024xf32> {onnx.name = "x"}) -> (tensor<16384xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<1024x1024xf32>>}> : () -> tensor<1024x1024xf32>
    %fc = "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc"} : (tensor<16x1024xf32>, tensor<1024x1024xf32>) -> tensor<16x1024xf32>
    %act = "aic_graph.unary"(%fc) <{kind = "relu"}> {onnx_node_name = "act"} : (tensor<16x1024xf32>) -> tensor<16x1024xf32>
    %sm = "aic_graph.softmax"(%act) <{axis = 1 : i64}> {onnx_node_name = "sm"} : (tensor<16x1024xf32>) -> tensor<16x1024xf32>
    %y = "aic_graph.reshape"(%sm) : (tensor<16x1024xf32>) -> tensor<16384xf32>
    func.return %y : tensor<16384xf32>
  }
}
