// RUN: qaicc-opt %s -p 'mos{effort=1}' | filecheck %s --check-prefix=ONE
// RUN: qaicc-opt %s -p 'mos{effort=2}' | filecheck %s --check-prefix=TWO
// RUN: qaicc-opt %s -p 'mos{effort=4}' | filecheck %s --check-prefix=FOUR
// RUN: not qaicc-opt %s -p 'mos{effort=0}' 2>&1 | filecheck %s --check-prefix=ZERO

// Both matmuls come row-split over 4 cores: every core holds each whole weight (4 MiB
// and 32 MiB). Effort 1 keeps the partition.
// ONE:      "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 64, 1024>, array<i64: 1, 64, 0, 64, 1024>, array<i64: 2, 128, 0, 64, 1024>, array<i64: 3, 192, 0, 64, 1024>]}

// Effort 2: two groups of two cores, each group half of the output channels (and of
// the weight), its two cores half of the rows. The 16 MiB half of the big weight does
// not fit VTCM: the op streams it in 4 tiles along the channels.
// TWO:      "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 128, 512>, array<i64: 1, 128, 0, 128, 512>, array<i64: 2, 0, 512, 128, 512>, array<i64: 3, 128, 512, 128, 512>], aic.tiles = 1 : i64, aic.tile_axis = 0 : i64, aic.ols = 1 : i64, aic.channel_split = 2 : i64}
// TWO:      "aic_graph.matmul"(%fc, %big) {onnx_node_name = "up", aic.blocks = [array<i64: 0, 0, 0, 128, 4096>, array<i64: 1, 128, 0, 128, 4096>, array<i64: 2, 0, 4096, 128, 4096>, array<i64: 3, 128, 4096, 128, 4096>], aic.tiles = 4 : i64, aic.tile_axis = 1 : i64, aic.ols = 1 : i64, aic.channel_split = 2 : i64}

// Effort 4: each core a quarter of the channels and of the weights.
// FOUR:     "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 256, 256>, array<i64: 1, 0, 256, 256, 256>, array<i64: 2, 0, 512, 256, 256>, array<i64: 3, 0, 768, 256, 256>], aic.tiles = 1 : i64, aic.tile_axis = 0 : i64, aic.ols = 1 : i64, aic.channel_split = 4 : i64}
// FOUR:     "aic_graph.matmul"(%fc, %big) {onnx_node_name = "up", aic.blocks = [array<i64: 0, 0, 0, 256, 2048>, array<i64: 1, 0, 2048, 256, 2048>, array<i64: 2, 0, 4096, 256, 2048>, array<i64: 3, 0, 6144, 256, 2048>], aic.tiles = 2 : i64, aic.tile_axis = 1 : i64, aic.ols = 1 : i64, aic.channel_split = 4 : i64}

// ZERO: qaicc-opt: error: mos: effort must be at least 1, got 0 (write mos{effort=M})

builtin.module attributes {aic.num_cores = 4 : i64} {
  func.func @main_graph(%x: tensor<256x1024xf32> {onnx.name = "x"}) -> (tensor<256x8192xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<1024x1024xf32>>}> : () -> tensor<1024x1024xf32>
    %big = "aic_graph.constant"() <{value = #qaicc.blob<"big" : tensor<1024x8192xf32>>}> : () -> tensor<1024x8192xf32>
    %fc = "aic_graph.matmul"(%x, %w) {onnx_node_name = "fc", aic.blocks = [array<i64: 0, 0, 0, 64, 1024>, array<i64: 1, 64, 0, 64, 1024>, array<i64: 2, 128, 0, 64, 1024>, array<i64: 3, 192, 0, 64, 1024>]} : (tensor<256x1024xf32>, tensor<1024x1024xf32>) -> tensor<256x1024xf32>
    %up = "aic_graph.matmul"(%fc, %big) {onnx_node_name = "up", aic.blocks = [array<i64: 0, 0, 0, 64, 8192>, array<i64: 1, 64, 0, 64, 8192>, array<i64: 2, 128, 0, 64, 8192>, array<i64: 3, 192, 0, 64, 8192>]} : (tensor<256x1024xf32>, tensor<1024x8192xf32>) -> tensor<256x8192xf32>
    func.return %up : tensor<256x8192xf32>
  }
}
