// RUN: qaicc-opt %s -p 'mxfp6-weights' | filecheck %s
// RUN: qaicc-opt %s -p 'legalize-fp16,mxfp6-weights{format=e3m2}' | filecheck %s --check-prefix=FP16
// RUN: not qaicc-opt %s -p 'mxfp6-weights{format=e4m3}' 2>&1 | filecheck %s --check-prefix=FORMAT

// The matmul's constant weight (K = 64: two blocks of 32 along the reduction axis)
// becomes MXFP6 elements and E8M0 scales, dequantized for the matmul; the activation
// x activation matmul and the bias are left alone.
// CHECK:      %w.mxfp6 = "aic_graph.mxfp6_constant"() <{elements = #qaicc.blob<"w.mxfp6_elements" : tensor<64x2xf6E2M3FN>>, scales = #qaicc.blob<"w.mxfp6_scales" : tensor<2x2xf8E8M0FNU> = "0x{{[0-9A-F]+}}">, axis = 0 : i64}> : () -> tensor<64x2x!aic_graph.mxfp6<e2m3>>
// CHECK-NEXT: %w.dequantized = "aic_graph.dequantize"(%w.mxfp6) : (tensor<64x2x!aic_graph.mxfp6<e2m3>>) -> tensor<64x2xf32>
// CHECK:      %h = "aic_graph.matmul"(%x, %w.dequantized, %b) : (tensor<3x64xf32>, tensor<64x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT: %gram = "aic_graph.matmul"(%h, %h) <{transpose_b = true}> : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x3xf32>
// CHECK-NOT:  "w" : tensor<64x2xf32>

// After legalize-fp16 the weight dequantizes to float16.
// FP16:       "aic_graph.mxfp6_constant"() {{.*}} : () -> tensor<64x2x!aic_graph.mxfp6<e3m2>>
// FP16-NEXT:  "aic_graph.dequantize"(%{{.*}}) : (tensor<64x2x!aic_graph.mxfp6<e3m2>>) -> tensor<64x2xf16>

// FORMAT: qaicc-opt: error: mxfp6-weights: unknown format 'e4m3'; use one of e2m3, e3m2

builtin.module {
  func.func @main_graph(%x: tensor<3x64xf32> {onnx.name = "x"}) -> (tensor<3x3xf32> {onnx.name = "y"}) {
    %w = "aic_graph.constant"() <{value = #qaicc.blob<"w" : tensor<64x2xf32> = "0x000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF000080BE000000000000803E0000003F0000403F000040BF000000BF">}> : () -> tensor<64x2xf32>
    %b = "aic_graph.constant"() <{value = #qaicc.blob<"b" : tensor<2xf32> = [0.5, -0.5]>}> : () -> tensor<2xf32>
    %h = "aic_graph.matmul"(%x, %w, %b) : (tensor<3x64xf32>, tensor<64x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
    %gram = "aic_graph.matmul"(%h, %h) <{transpose_b = true}> : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x3xf32>
    func.return %gram : tensor<3x3xf32>
  }
}
