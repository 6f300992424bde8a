// RUN: moe-opt %s --moe-prepare --moe-form-kernels -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s --moe-prepare --moe-form-kernels=e4m3-tensor-cores=true -split-input-file | FileCheck %s --check-prefix=E4M3
// RUN: moe-opt %s --moe-prepare --moe-form-kernels="down-columns=256" -split-input-file | FileCheck %s --check-prefix=WIDE
// RUN: moe-opt %s --moe-prepare --moe-form-kernels="expert-rows=64 down-columns=256" -split-input-file | FileCheck %s --check-prefix=UNSTAGED

// A quantized layer's expert kernels dequantize only the chunks their
// GEMMs read: in the tensor-core form, per 64-column chunk of the
// reduction, a [64, 64] bf16 tile (gate's and up's) from the stored fp8
// values and their block scales, into tiles allocated once per block. No
// moe.dequantize and nothing of a whole expert's size is left. The stored
// values are staged like plain weights: per stage, each weight's 64 e4m3
// bytes a row (padded by 16), copied asynchronously, and each chunk is
// dequantized from its stage. A chunk lies in one 128 x 128 scale block
// (its 64 rows and columns at multiples of 64) and reads its scale once,
// before the chunk's generic, not per element.
// CHECK-LABEL: func.func @fp8_layer(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<8x512x256xf8E4M3FN>, %[[S:[a-z0-9]+]]: tensor<8x4x2xf32>
// CHECK-NOT: moe.dequantize
// CHECK-NOT: tensor<512x256xbf16>
// CHECK: moe.kernel = "dispatch"
// CHECK: bufferization.alloc_tensor() : tensor<64x80xf8E4M3FN>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xf8E4M3FN>) attrs = {moe.async_copy = 3 : i64}
// CHECK-NEXT: ^bb0
// CHECK: %[[STORED:.*]] = tensor.extract %[[Q]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x256xf8E4M3FN>
// CHECK-NEXT: linalg.yield %[[STORED]] : f8E4M3FN
// CHECK: scf.for {{.*}} -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x72xbf16>, tensor<64x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>, tensor<16x72xbf16>, tensor<64x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>)
// CHECK: %[[SCALE:.*]] = tensor.extract %[[S]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x4x2xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xbf16>)
// CHECK-NOT: tensor.extract %[[S]]
// CHECK-NOT: tensor.extract %[[Q]]
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<64x64xf8E4M3FN>
// CHECK-NOT: tensor.extract %[[S]]
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: linalg.yield
// CHECK: moe.tensor_core
// CHECK: moe.kernel = "gate_up"
// A down tile of 256 columns spans two 128-row scale blocks: the block
// keeps their scales ([2 blocks, 2 groups], once, when it has rows) and
// each dequantized element reads its block's from there.
// WIDE-LABEL: func.func @fp8_layer(
// WIDE-SAME: %[[DS:[a-z0-9]+]]: tensor<8x2x2xf32>)
// WIDE: moe.kernel = "gate_up"
// WIDE: bufferization.alloc_tensor() : tensor<256x80xf8E4M3FN>
// WIDE: %[[ROWS:.*]] = bufferization.alloc_tensor() : tensor<2x2xf32>
// WIDE-NEXT: %[[KEPT:.*]] = scf.if %{{.*}} -> (tensor<2x2xf32>) {
// WIDE-NEXT: linalg.generic {{.*}} outs(%[[ROWS]] : tensor<2x2xf32>)
// WIDE: tensor.extract %[[DS]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x2x2xf32>
// WIDE: linalg.generic {{.*}} outs(%{{.*}} : tensor<256x64xf8E4M3FN>) attrs = {moe.async_copy = 2 : i64}
// WIDE: scf.for
// WIDE: linalg.generic {{.*}} outs(%{{.*}} : tensor<256x64xbf16>)
// WIDE-NOT: tensor.extract %[[DS]]
// WIDE: tensor.extract %[[KEPT]][%{{.*}}, %{{.*}}] : tensor<2x2xf32>
// WIDE: moe.kernel = "down"
// With 64-row blocks two stages of the stored bytes do not fit beside the
// wider accumulators: down's chunks are dequantized from global memory,
// and still read the two blocks' kept scales, not one per element.
// UNSTAGED-LABEL: func.func @fp8_layer(
// UNSTAGED-SAME: %[[DQ:[a-z0-9]+]]: tensor<8x256x256xf8E4M3FN>, %[[DS:[a-z0-9]+]]: tensor<8x2x2xf32>)
// UNSTAGED: moe.kernel = "gate_up"
// UNSTAGED-NOT: tensor<256x80xf8E4M3FN>
// UNSTAGED: %[[ROWS:.*]] = bufferization.alloc_tensor() : tensor<2x2xf32>
// UNSTAGED-NEXT: %[[KEPT:.*]] = scf.if %{{.*}} -> (tensor<2x2xf32>) {
// UNSTAGED: scf.for
// UNSTAGED: linalg.generic {{.*}} outs(%{{.*}} : tensor<256x64xbf16>)
// UNSTAGED-NOT: tensor.extract %[[DS]]
// UNSTAGED: tensor.extract %[[DQ]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x256x256xf8E4M3FN>
// UNSTAGED-NOT: tensor.extract %[[DS]]
// UNSTAGED: tensor.extract %[[KEPT]][%{{.*}}, %{{.*}}] : tensor<2x2xf32>
// UNSTAGED: moe.kernel = "down"
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
// rows' e4m3 values and the weights' stored e4m3 values (both exact in
// bf16: never rounded with their scales), and per chunk starts each
// product from zero (in a product tile the loop carries after the
// accumulators) and adds it to the accumulator times the rows' scale and
// the weight's block scale (the promotion). The activated rows stay f32
// for down to quantize.
// CHECK-LABEL: func.func @w8a8_layer(
// CHECK-SAME: %[[GU:[a-z0-9]+]]: tensor<8x512x256xf8E4M3FN>, %[[GUS:[a-z0-9]+]]: tensor<8x4x2xf32>
// CHECK: moe.kernel = "dispatch"
// CHECK: scf.forall {{.*}} -> (tensor<?x256xf32>)
// CHECK: bufferization.alloc_tensor() : tensor<16x2xf32>
// CHECK: scf.if
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<16x2xf32>)
// CHECK: scf.for
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: bufferization.alloc_tensor() : tensor<16x72xbf16>
// CHECK: bufferization.alloc_tensor() : tensor<64x72xbf16>
// CHECK: bufferization.alloc_tensor() : tensor<64x72xbf16>
// The gate weight's stored value, decoded (x 256 puts e4m3's exponent
// bias on f16's) and made bf16, with no scale.
// CHECK: tensor.extract %[[GU]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x256xf8E4M3FN>
// CHECK-NEXT: arith.bitcast %{{.*}} : f8E4M3FN to i8
// CHECK-NOT: tensor.extract %[[GUS]]
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK: scf.for {{.*}} iter_args(%{{[a-z0-9]+}} = %{{[a-z0-9]+}}, %{{[a-z0-9]+}} = %{{[a-z0-9]+}}, %[[PRODUCT:[a-z0-9]+]] = {{.*}}) -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x72xbf16>, tensor<64x72xbf16>, tensor<64x72xbf16>, tensor<16x72xbf16>, tensor<64x72xbf16>, tensor<64x72xbf16>)
// CHECK: linalg.fill {{.*}} outs(%[[PRODUCT]] : tensor<16x64xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x64xbf16>, tensor<64x64xbf16>) outs(%{{.*}} : tensor<16x64xf32>) attrs = {moe.tensor_core}
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<16x64xf32>) outs(%{{.*}} : tensor<16x64xf32>)
// CHECK: %[[ROWSCALE:.*]] = tensor.extract %{{.*}} : tensor<16x2xf32>
// CHECK: %[[WSCALE:.*]] = tensor.extract %[[GUS]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x4x2xf32>
// CHECK: %[[BOTH:.*]] = arith.mulf %[[ROWSCALE]], %[[WSCALE]]
// CHECK: arith.mulf %{{.*}}, %[[BOTH]]
// CHECK: arith.addf
// CHECK: moe.kernel = "gate_up"
// The staged rows are quantized and the weights decoded on the way: no
// asynchronous copy.
// CHECK-NOT: moe.async_copy
// CHECK: moe.kernel = "down"

// For chips with e4m3 mma.sync, the staging tiles are e4m3 (64-byte rows
// padded by 16 bytes): the rows' values encoded as e4m3 bits (normal:
// f32's exponent rebiased, - 120, over its top 3 mantissa bits; subnormal:
// |v| x 512), the weights' stored values copied asynchronously, and the
// contraction multiplies f8E4M3FN tiles.
// E4M3-LABEL: func.func @w8a8_layer(
// E4M3-SAME: %[[GU:[a-z0-9]+]]: tensor<8x512x256xf8E4M3FN>, %[[GUS:[a-z0-9]+]]: tensor<8x4x2xf32>
// E4M3: moe.kernel = "dispatch"
// E4M3: bufferization.alloc_tensor() : tensor<16x80xf8E4M3FN>
// E4M3: bufferization.alloc_tensor() : tensor<64x80xf8E4M3FN>
// E4M3: bufferization.alloc_tensor() : tensor<64x80xf8E4M3FN>
// E4M3: linalg.generic {{.*}} outs(%{{.*}} : tensor<16x64xf8E4M3FN>)
// E4M3: arith.subi %{{.*}}, %c120_i32 : i32
// E4M3: arith.mulf %{{.*}}, %cst{{.*}} : f32
// E4M3-NEXT: arith.fptoui %{{.*}} : f32 to i32
// E4M3: arith.trunci %{{.*}} : i32 to i8
// E4M3-NEXT: arith.bitcast %{{.*}} : i8 to f8E4M3FN
// E4M3: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xf8E4M3FN>) attrs = {moe.async_copy = 2 : i64}
// E4M3-NEXT: ^bb0
// E4M3: %[[STORED:.*]] = tensor.extract %[[GU]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x256xf8E4M3FN>
// E4M3-NEXT: linalg.yield %[[STORED]] : f8E4M3FN
// E4M3: scf.for {{.*}} -> (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>, tensor<16x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>, tensor<64x80xf8E4M3FN>)
// E4M3: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x64xf8E4M3FN>, tensor<64x64xf8E4M3FN>) outs(%{{.*}} : tensor<16x64xf32>) attrs = {moe.tensor_core}
// E4M3: tensor.extract %[[GUS]]
// E4M3: moe.kernel = "gate_up"
// E4M3: tensor<16x80xf8E4M3FN>
// E4M3: moe.kernel = "down"
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

// -----

// MXFP4 (1 x 32 scale blocks): the e2m1 pairs are staged like the fp8
// values (32 bytes a row per 64-column chunk, padded by 16). A chunk spans
// 64 rows' scales, two each, so a block first copies its 64 rows' scales
// ([64, 8] e8m0, when it has rows) and each dequantized element reads its
// own from there, its value from the staged byte's nibble.
// CHECK-LABEL: func.func @mxfp4_layer(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<8x512x128xi8>, %[[S:[a-z0-9]+]]: tensor<8x512x8xf8E8M0FNU>
// CHECK: moe.kernel = "dispatch"
// CHECK: bufferization.alloc_tensor() : tensor<64x48xi8>
// CHECK: %[[ROWS:.*]] = bufferization.alloc_tensor() : tensor<64x8xf8E8M0FNU>
// CHECK-NEXT: %[[KEPT:.*]] = scf.if %{{.*}} -> (tensor<64x8xf8E8M0FNU>) {
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[ROWS]] : tensor<64x8xf8E8M0FNU>)
// CHECK: tensor.extract %[[S]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x8xf8E8M0FNU>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x32xi8>) attrs = {moe.async_copy = 3 : i64}
// CHECK: tensor.extract %[[Q]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x512x128xi8>
// CHECK: scf.for
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xbf16>)
// CHECK-NOT: tensor.extract %[[S]]
// CHECK-NOT: tensor.extract %[[Q]]
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<64x32xi8>
// CHECK: arith.shrui
// CHECK: tensor.extract %[[KEPT]][%{{.*}}, %{{.*}}] : tensor<64x8xf8E8M0FNU>
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: moe.kernel = "gate_up"
func.func @mxfp4_layer(%x: tensor<?x256xbf16>, %router: tensor<8x256xbf16>,
                       %gu: tensor<8x512x128xi8>, %gus: tensor<8x512x8xf8E8M0FNU>,
                       %d: tensor<8x256x128xi8>, %ds: tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %w1 = moe.dequantize %gu, %gus block [1, 32] stacked 2 : tensor<8x512x128xi8>, tensor<8x512x8xf8E8M0FNU> -> tensor<8x512x256xbf16>
  %w2 = moe.dequantize %d, %ds block [1, 32] : tensor<8x256x128xi8>, tensor<8x256x8xf8E8M0FNU> -> tensor<8x256x256xbf16>
  %y = moe.layer %x, %router experts(%w1, %w2) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
