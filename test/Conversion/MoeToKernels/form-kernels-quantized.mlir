// RUN: moe-opt %s --moe-prepare --moe-form-kernels -split-input-file -verify-diagnostics | FileCheck %s

// A quantized layer's expert kernels dequantize only the chunks their
// GEMMs read: in the tensor-core form, per 64-column chunk of the
// reduction, a [64, 64] bf16 tile (gate's and up's) from the stored fp8
// values and their block scales, into tiles allocated once per block. No
// moe.dequantize and nothing of a whole expert's size is left.
// CHECK-LABEL: func.func @fp8_layer(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<8x512x256xf8E4M3FN>, %[[S:[a-z0-9]+]]: tensor<8x4x2xf32>
// CHECK-NOT: moe.dequantize
// CHECK-NOT: tensor<512x256xbf16>
// CHECK: moe.kernel = "dispatch"
// CHECK: scf.for {{.*}} -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xbf16>, tensor<16x64xbf16>)
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xbf16>)
// CHECK: tensor.extract %[[Q]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x256xf8E4M3FN>
// CHECK: tensor.extract %[[S]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x4x2xf32>
// CHECK: moe.tensor_core
// CHECK: moe.kernel = "gate_up"
func.func @fp8_layer(%x: tensor<?x256xbf16>, %router: tensor<8x256xbf16>,
                     %gu: tensor<8x512x256xf8E4M3FN>, %gus: tensor<8x4x2xf32>,
                     %d: tensor<8x256x256xf8E4M3FN>, %ds: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %w1 = moe.dequantize %gu, %gus block [128, 128] stacked 2 : tensor<8x512x256xf8E4M3FN>, tensor<8x4x2xf32> -> tensor<8x512x256xbf16>
  %w2 = moe.dequantize %d, %ds block [128, 128] : tensor<8x256x256xf8E4M3FN>, tensor<8x2x2xf32> -> tensor<8x256x256xbf16>
  %y = moe.layer %x, %router experts(%w1, %w2) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// w8a8's per-token activation groups are not in the kernel form yet.
func.func @w8a8_layer(%x: tensor<?x256xbf16>, %router: tensor<8x256xbf16>,
                      %gu: tensor<8x512x256xbf16>, %d: tensor<8x256x256xbf16>) -> tensor<?x256xbf16> {
  // expected-error @+1 {{moe-form-kernels: fp8 activation quantization (fp8_activation_group, w8a8) runs in the unfused lowering only; the kernels compute weight-only (w8a16)}}
  %y = moe.layer %x, %router experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu, fp8_activation_group = 128> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
