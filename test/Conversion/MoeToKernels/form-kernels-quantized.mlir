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
// CHECK: scf.for {{.*}} -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x72xbf16>, tensor<16x72xbf16>)
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

// w8a8 (fp8_activation_group): each expert block computes its rows'
// scales per group of 128 ([16, 2] for K 256: amax / 448), stages the
// rows' e4m3 values, and per chunk starts each product from zero (in a
// product tile the loop carries after the accumulators) and adds it to the
// accumulator times the rows' scales (the promotion). The activated rows
// stay f32 for down to quantize.
// CHECK-LABEL: func.func @w8a8_layer(
// CHECK: moe.kernel = "dispatch"
// CHECK: scf.forall {{.*}} -> (tensor<?x256xf32>)
// CHECK: bufferization.alloc_tensor() : tensor<16x2xf32>
// CHECK: scf.if
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<16x2xf32>)
// CHECK: scf.for
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: scf.for {{.*}} iter_args(%{{[a-z0-9]+}} = %{{[a-z0-9]+}}, %{{[a-z0-9]+}} = %{{[a-z0-9]+}}, %[[PRODUCT:[a-z0-9]+]] = {{.*}}) -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x72xbf16>, tensor<16x72xbf16>)
// CHECK: linalg.fill {{.*}} outs(%[[PRODUCT]] : tensor<16x64xf32>)
// CHECK: moe.tensor_core
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<16x64xf32>) outs(%{{.*}} : tensor<16x64xf32>)
// CHECK: tensor.extract %{{.*}} : tensor<16x2xf32>
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: moe.kernel = "gate_up"
// The staged rows are quantized on the way (and the fp8 weights
// dequantized): no asynchronous copy.
// CHECK-NOT: moe.async_copy
// CHECK: moe.kernel = "down"
func.func @w8a8_layer(%x: tensor<?x256xbf16>, %router: tensor<8x256xbf16>,
                      %gu: tensor<8x512x256xf8E4M3FN>, %gus: tensor<8x4x2xf32>,
                      %d: tensor<8x256x256xf8E4M3FN>, %ds: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %w1 = moe.dequantize %gu, %gus block [128, 128] stacked 2 : tensor<8x512x256xf8E4M3FN>, tensor<8x4x2xf32> -> tensor<8x512x256xbf16>
  %w2 = moe.dequantize %d, %ds block [128, 128] : tensor<8x256x256xf8E4M3FN>, tensor<8x2x2xf32> -> tensor<8x256x256xbf16>
  %y = moe.layer %x, %router experts(%w1, %w2) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu, fp8_activation_group = 128> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// ue8m0 (fp8_pow2_scales): each scale rounded up to a power of two on its
// bits (exponent field 0x7f800000, one more where the mantissa 0x7fffff is
// not zero).
// CHECK-LABEL: func.func @w8a8_pow2_layer(
// CHECK: bufferization.alloc_tensor() : tensor<16x2xf32>
// CHECK: arith.divf
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.andi %{{.*}}, %c2139095040_i32
// CHECK: arith.andi %{{.*}}, %c8388607_i32
// CHECK: arith.select
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: moe.tensor_core
func.func @w8a8_pow2_layer(%x: tensor<?x256xbf16>, %router: tensor<8x256xbf16>,
                      %gu: tensor<8x512x256xbf16>, %d: tensor<8x256x256xbf16>) -> tensor<?x256xbf16> {
  %y = moe.layer %x, %router experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu, fp8_activation_group = 128, fp8_pow2_scales = true> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
