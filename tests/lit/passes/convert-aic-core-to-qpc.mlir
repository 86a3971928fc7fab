// RUN: qaicc-opt %s -p 'convert-aic-core-to-qpc{flags="-aic-num-cores=2 -ols=2" target="2.0"}' | filecheck %s

// Two cores run the same two ops (a matmul in two tiles, then a relu): the container
// lists the I/O, the DDR layout with ids (the reshaped output is an alias of 'act'),
// the semaphores, the constant segment, each distinct compute region once as a kernel
// (both cores' tasks exec kernels 0 and 1) and one stream per core. Tile loops stay
// loops (tiles = 2 on the task); VTCM offsets, buffers and multicast carry over.
// CHECK:      "qpc.container"() <{target = "ai100-pro", num_cores = 2 : i64, flags = {"aic-num-cores" = "2", ols = "2"}, version = 1 : i64, batch_size = 1 : i64}> ({
// CHECK-NEXT:   "qpc.io"() <{name = "x", kind = "input", type = tensor<4x4xf32>, batch = 1 : i64, tensor = 0 : i64}>
// CHECK-NEXT:   "qpc.io"() <{name = "y", kind = "output", type = tensor<8xf32>, batch = 1 : i64, tensor = 4 : i64}>
// CHECK-NEXT:   "qpc.ddr_tensor"() <{id = 0 : i64, name = "in.x", type = tensor<4x4xf32>, kind = "input", io_name = "x"}>
// CHECK-NEXT:   "qpc.ddr_tensor"() <{id = 1 : i64, name = "w", type = tensor<4x2xf32>, kind = "constant", constant = 0 : i64}>
// CHECK-NEXT:   "qpc.ddr_tensor"() <{id = 2 : i64, name = "mm", type = tensor<4x2xf32>, kind = "intermediate"}>
// CHECK-NEXT:   "qpc.ddr_tensor"() <{id = 3 : i64, name = "act", type = tensor<4x2xf32>, kind = "intermediate"}>
// CHECK-NEXT:   "qpc.ddr_tensor"() <{id = 4 : i64, name = "act.view", type = tensor<8xf32>, kind = "alias", alias = 3 : i64, io_name = "y"}>
// CHECK-NEXT:   "qpc.semaphore"() <{id = 0 : i64, name = "mm.ready"}>
// CHECK-NEXT:   "qpc.semaphore"() <{id = 1 : i64, name = "act.ready"}>
// CHECK-NEXT:   "qpc.constants"() <{size = 64 : i64}> ({
// CHECK-NEXT:     "qpc.constant"() <{id = 0 : i64, name = "w", type = tensor<4x2xf32>, value = #qaicc.blob<"w" : tensor<4x2xf32> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>, offsets = array<i64: 0>}>
// CHECK-NEXT:   })
// CHECK-NEXT:   "qpc.kernel"() <{id = 0 : i64, unit = "matrix"}> ({
// CHECK-NEXT:   ^{{.*}}(%{{.*}}: tensor<1x4xf32>, %{{.*}}: tensor<4x2xf32>):
// CHECK-NEXT:     %{{.*}} = "aic_graph.matmul"
// CHECK-NEXT:     "qpc.yield"
// CHECK-NEXT:   })
// CHECK-NEXT:   "qpc.kernel"() <{id = 1 : i64, unit = "vector"}> ({
// CHECK-NEXT:   ^{{.*}}(%{{.*}}: tensor<2x2xf32>):
// CHECK-NEXT:     %{{.*}} = "aic_graph.unary"(%{{.*}}) <{kind = "relu"}>
// CHECK-NEXT:     "qpc.yield"
// CHECK-NEXT:   })
// CHECK-NEXT:   "qpc.stream"() <{core = 0 : i64}> ({
// CHECK-NEXT:     "qpc.task"() <{name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
// CHECK-NEXT:       %[[X:.*]] = "qpc.dma_load"() <{tensor = 0 : i64, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>, vtcm_offset = 64 : i64, buffers = 2 : i64}> : () -> tensor<1x4xf32>
// CHECK-NEXT:       %[[W:.*]] = "qpc.dma_load"() <{tensor = 1 : i64, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, multicast_cores = array<i64: 0, 1>, vtcm_offset = 0 : i64, buffers = 1 : i64}> : () -> tensor<4x2xf32>
// CHECK-NEXT:       %[[R:.*]] = "qpc.exec"(%[[X]], %[[W]]) <{kernel = 0 : i64, unit = "matrix"}> : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:       "qpc.dma_store"(%[[R]]) <{tensor = 2 : i64, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}>
// CHECK-NEXT:     })
// CHECK-NEXT:     "qpc.signal"() <{semaphore = 0 : i64}>
// CHECK-NEXT:     "qpc.wait"() <{semaphore = 0 : i64, count = 2 : i64}>
// CHECK-NEXT:     "qpc.task"() <{name = "act", op_index = 1 : i64, unit = "vector", tiles = 1 : i64, ols = 1 : i64}> ({
// CHECK:            "qpc.exec"(%{{.*}}) <{kernel = 1 : i64, unit = "vector"}>
// CHECK:          "qpc.signal"() <{semaphore = 1 : i64}>
// CHECK-NEXT:   })
// CHECK-NEXT:   "qpc.stream"() <{core = 1 : i64}> ({
// CHECK-NEXT:     "qpc.task"() <{name = "mm"
// CHECK-NEXT:       "qpc.dma_load"() <{tensor = 0 : i64, offsets = array<i64: 2, 0>, tile_steps = array<i64: 1, 0>}>
// CHECK:            "qpc.exec"(%{{.*}}, %{{.*}}) <{kernel = 0 : i64, unit = "matrix"}>
// CHECK:            "qpc.exec"(%{{.*}}) <{kernel = 1 : i64, unit = "vector"}>
// CHECK-NOT:    "qpc.kernel"
// CHECK-NOT:    "aic_core.

builtin.module attributes {aic_core.num_cores = 2 : i64} {
  func.func @main_graph(%x: tensor<4x4xf32> {onnx.name = "x"}) -> (tensor<8xf32> {onnx.name = "y"}) {
    %0 = "aic_core.launch"(%x) <{inputs = [@in.x], outputs = [@act.view]}> : (tensor<4x4xf32>) -> tensor<8xf32>
    func.return %0 : tensor<8xf32>
  }
  "aic_core.ddr_tensor"() <{sym_name = "in.x", type = tensor<4x4xf32>, kind = "input", io_name = "x"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "w", type = tensor<4x2xf32>, kind = "constant", value = #qaicc.blob<"w" : tensor<4x2xf32> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "mm", type = tensor<4x2xf32>, kind = "intermediate"}> : () -> ()
  "aic_core.semaphore"() <{sym_name = "mm.ready"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "act", type = tensor<4x2xf32>, kind = "intermediate"}> : () -> ()
  "aic_core.semaphore"() <{sym_name = "act.ready"}> : () -> ()
  "aic_core.ddr_tensor"() <{sym_name = "act.view", type = tensor<8xf32>, kind = "alias", alias = @act, io_name = "y"}> : () -> ()
  "aic_core.program"() <{core = 0 : i64}> ({
    "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
      %0 = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>, vtcm_offset = 64 : i64, buffers = 2 : i64}> : () -> tensor<1x4xf32>
      %1 = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>, multicast_cores = array<i64: 0, 1>, vtcm_offset = 0 : i64, buffers = 1 : i64}> : () -> tensor<4x2xf32>
      %2 = "aic_core.compute"(%0, %1) <{unit = "matrix"}> ({
      ^bb0(%3: tensor<1x4xf32>, %4: tensor<4x2xf32>):
        %5 = "aic_graph.matmul"(%3, %4) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
        "aic_core.yield"(%5) : (tensor<1x2xf32>) -> ()
      }) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
      "aic_core.dma_store"(%2) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 1, 0>}> : (tensor<1x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @mm.ready}> : () -> ()
    "aic_core.wait"() <{semaphore = @mm.ready, count = 2 : i64}> : () -> ()
    "aic_core.task"() <{op_name = "act", op_index = 1 : i64, unit = "vector", tiles = 1 : i64, ols = 1 : i64}> ({
      %6 = "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<2x2xf32>
      %7 = "aic_core.compute"(%6) <{unit = "vector"}> ({
      ^bb0(%8: tensor<2x2xf32>):
        %9 = "aic_graph.unary"(%8) <{kind = "relu"}> : (tensor<2x2xf32>) -> tensor<2x2xf32>
        "aic_core.yield"(%9) : (tensor<2x2xf32>) -> ()
      }) : (tensor<2x2xf32>) -> tensor<2x2xf32>
      "aic_core.dma_store"(%7) <{target = @act, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : (tensor<2x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @act.ready}> : () -> ()
  }) : () -> ()
  "aic_core.program"() <{core = 1 : i64}> ({
    "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, unit = "matrix", tiles = 2 : i64, ols = 2 : i64}> ({
      %10 = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 2, 0>, tile_steps = array<i64: 1, 0>}> : () -> tensor<1x4xf32>
      %11 = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<4x2xf32>
      %12 = "aic_core.compute"(%10, %11) <{unit = "matrix"}> ({
      ^bb0(%13: tensor<1x4xf32>, %14: tensor<4x2xf32>):
        %15 = "aic_graph.matmul"(%13, %14) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
        "aic_core.yield"(%15) : (tensor<1x2xf32>) -> ()
      }) : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
      "aic_core.dma_store"(%12) <{target = @mm, offsets = array<i64: 2, 0>, tile_steps = array<i64: 1, 0>}> : (tensor<1x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @mm.ready}> : () -> ()
    "aic_core.wait"() <{semaphore = @mm.ready, count = 2 : i64}> : () -> ()
    "aic_core.task"() <{op_name = "act", op_index = 1 : i64, unit = "vector", tiles = 1 : i64, ols = 1 : i64}> ({
      %16 = "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 2, 0>, tile_steps = array<i64: 0, 0>}> : () -> tensor<2x2xf32>
      %17 = "aic_core.compute"(%16) <{unit = "vector"}> ({
      ^bb0(%18: tensor<2x2xf32>):
        %19 = "aic_graph.unary"(%18) <{kind = "relu"}> : (tensor<2x2xf32>) -> tensor<2x2xf32>
        "aic_core.yield"(%19) : (tensor<2x2xf32>) -> ()
      }) : (tensor<2x2xf32>) -> tensor<2x2xf32>
      "aic_core.dma_store"(%17) <{target = @act, offsets = array<i64: 2, 0>, tile_steps = array<i64: 0, 0>}> : (tensor<2x2xf32>) -> ()
    }) : () -> ()
    "aic_core.signal"() <{semaphore = @act.ready}> : () -> ()
  }) : () -> ()
}
