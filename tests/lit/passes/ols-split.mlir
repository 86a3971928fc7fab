// RUN: qaicc-opt %s -p 'ols-split{factor=4}' | filecheck %s
// RUN: qaicc-opt %s -p 'partition-cores{num-cores=2},ols-split{factor=2}' | filecheck %s --check-prefix=TWO
// RUN: sed 's/12x4096/1x4194304/g' %s | not qaicc-opt -p 'ols-split' 2>&1 | filecheck %s --check-prefix=NOFIT
// RUN: not qaicc-opt %s -p 'ols-split{factor=0}' 2>&1 | filecheck %s --check-prefix=ZERO

// Without a partition every op runs whole on core 0. The relu's 6 rows take 3 pieces
// (the largest divisor of 6 up to 4; its 5 columns none); the softmax's 12 rows take 4.
// The matmul's 32 MiB weight cannot be held: 32 tiles along the output channels stream
// it, each tile's share double-buffered beside the held 4 MiB input.
// CHECK: "aic_graph.unary"(%x) <{kind = "relu"}> {onnx_node_name = "relu", aic.blocks = [array<i64: 0, 0, 0, 6, 5>], aic.tiles = 3 : i64, aic.tile_axis = 0 : i64, aic.ols = 4 : i64, aic.channel_split = 1 : i64}
// CHECK: "aic_graph.softmax"(%s) <{axis = 1 : i64}> {onnx_node_name = "rows", aic.blocks = [array<i64: 0, 0, 0, 12, 4096>], aic.tiles = 4 : i64, aic.tile_axis = 0 : i64, aic.ols = 4 : i64
// CHECK: "aic_graph.matmul"(%m, %b) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 512, 4096>], aic.tiles = 32 : i64, aic.tile_axis = 1 : i64, aic.ols = 4 : i64

// On 2 cores the relu's blocks of 3 rows take no pieces; the rest is cut per core.
// TWO: "aic_graph.unary"(%x) <{kind = "relu"}> {onnx_node_name = "relu", aic.blocks = [array<i64: 0, 0, 0, 3, 5>, array<i64: 1, 3, 0, 3, 5>], aic.tiles = 1 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64
// TWO: "aic_graph.softmax"(%s) <{axis = 1 : i64}> {onnx_node_name = "rows", aic.blocks = [array<i64: 0, 0, 0, 6, 4096>, array<i64: 1, 6, 0, 6, 4096>], aic.tiles = 2 : i64, aic.tile_axis = 0 : i64, aic.ols = 2 : i64
// TWO: "aic_graph.matmul"(%m, %b) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 512, 2048>, array<i64: 1, 0, 2048, 512, 2048>], aic.tiles = 16 : i64, aic.tile_axis = 1 : i64, aic.ols = 2 : i64, aic.channel_split = 2 : i64}

// A softmax over one row of 16 MiB has no axis to cut.
// NOFIT: qaicc-opt: error: ols-split: op 'rows' (aic_graph.softmax) needs at least 33554432 bytes (32.0 MiB) of VTCM per core under any tiling, more than the 8323072 bytes (7.9 MiB) of ai100-pro

// ZERO: qaicc-opt: error: ols-split: factor must be at least 1, got 0 (write ols-split{factor=K})

builtin.module {
  func.func @main_graph(%x: tensor<6x5xf32> {onnx.name = "x"}, %s: tensor<12x4096xf32> {onnx.name = "s"}, %m: tensor<512x2048xf32> {onnx.name = "m"}) -> (tensor<6x5xf32> {onnx.name = "y"}, tensor<12x4096xf32> {onnx.name = "z"}, tensor<512x4096xf32> {onnx.name = "w"}) {
    %y = "aic_graph.unary"(%x) <{kind = "relu"}> {onnx_node_name = "relu"} : (tensor<6x5xf32>) -> tensor<6x5xf32>
    %z = "aic_graph.softmax"(%s) <{axis = 1 : i64}> {onnx_node_name = "rows"} : (tensor<12x4096xf32>) -> tensor<12x4096xf32>
    %b = "aic_graph.constant"() <{value = #qaicc.blob<"b" : tensor<2048x4096xf32>>}> : () -> tensor<2048x4096xf32>
    %w = "aic_graph.matmul"(%m, %b) {onnx_node_name = "fc"} : (tensor<512x2048xf32>, tensor<2048x4096xf32>) -> tensor<512x4096xf32>
    func.return %y, %z, %w : tensor<6x5xf32>, tensor<12x4096xf32>, tensor<512x4096xf32>
  }
}
