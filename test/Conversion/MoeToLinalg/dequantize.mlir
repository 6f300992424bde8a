// RUN: moe-opt %s --convert-moe-to-linalg --canonicalize | FileCheck %s

// A quantized weight is dequantized one expert at a time, reading the
// stored fp8 values and the scale of each element's block (gate and up,
// 192 rows each, have their own grid of 128-row blocks); nothing of the
// size of all experts is widened. With fp8_activation_group, each GEMM
// input is quantized per row in groups of 128 first (w8a8), and the
// weights are multiplied exactly: dequantized in f32, not rounded to bf16.
// CHECK-LABEL: func.func @experts_fp8(
// CHECK-SAME: %[[GU:[a-z0-9]+]]: tensor<4x384x256xf8E4M3FN>, %[[GUS:[a-z0-9]+]]: tensor<4x4x2xf32>
// CHECK-NOT: tensor<4x384x256xbf16>
// CHECK: scf.for %[[E:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<384x256xf32>)
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[J:.*]] = linalg.index 1 : index
// CHECK: %[[Q:.*]] = tensor.extract %[[GU]][%[[E]], %[[I]], %[[J]]] : tensor<4x384x256xf8E4M3FN>
// CHECK: arith.bitcast %[[Q]] : f8E4M3FN to i8
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: %[[PART:.*]] = arith.divui %[[I]], %c192 : index
// CHECK: %[[IN:.*]] = arith.remui %[[I]], %c192 : index
// CHECK: %[[BLOCK:.*]] = arith.divui %[[IN]], %c128 : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[PART]], %c2 : index
// CHECK: %[[ROW:.*]] = arith.addi %[[FIRST]], %[[BLOCK]] : index
// CHECK: %[[COL:.*]] = arith.divui %[[J]], %c128 : index
// CHECK: tensor.extract %[[GUS]][%[[E]], %[[ROW]], %[[COL]]] : tensor<4x4x2xf32>
// CHECK-NOT: arith.truncf
// CHECK: linalg.yield %{{.*}} : f32
// The gathered rows' amax per group of 128, then e4m3(x / s) * s.
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2xf32>)
// CHECK: scf.for
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: math.roundeven
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %[[W]] : tensor<?x256xf32>, tensor<384x256xf32>)
func.func @experts_fp8(%x: tensor<?x256xbf16>, %perm: tensor<?xi32>, %offsets: tensor<5xi32>,
                       %gu: tensor<4x384x256xf8E4M3FN>, %gus: tensor<4x4x2xf32>,
                       %d: tensor<4x256x192xf8E4M3FN>, %ds: tensor<4x2x2xf32>) -> tensor<?x256xf32> {
  %w1 = moe.dequantize %gu, %gus block [128, 128] stacked 2 : tensor<4x384x256xf8E4M3FN>, tensor<4x4x2xf32> -> tensor<4x384x256xbf16>
  %w2 = moe.dequantize %d, %ds block [128, 128] : tensor<4x256x192xf8E4M3FN>, tensor<4x2x2xf32> -> tensor<4x256x192xbf16>
  %r = moe.experts %x, %perm, %offsets, %w1, %w2 ffn <activation = silu_glu, fp8_activation_group = 128> {top_k = 2 : i64} : (tensor<?x256xbf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x384x256xbf16>, tensor<4x256x192xbf16>) -> tensor<?x256xf32>
  return %r : tensor<?x256xf32>
}

// The shared expert's GEMMs read MXFP4 in their bodies: byte j / 2, the
// nibble at 4 * (j mod 2), times the e8m0 scale of its 32-group.
// CHECK-LABEL: func.func @shared_mxfp4(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x64xbf16>, %[[B:[a-z0-9]+]]: tensor<64x32xi8>, %[[S:[a-z0-9]+]]: tensor<64x2xf8E8M0FNU>
// CHECK-NOT: tensor<64x64xbf16>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<?x64xbf16>)
// CHECK: %[[N:.*]] = linalg.index 1 : index
// CHECK: %[[K:.*]] = linalg.index 2 : index
// CHECK: %[[BYTE:.*]] = arith.divui %[[K]], %c2 : index
// CHECK: %[[PAIR:.*]] = tensor.extract %[[B]][%[[N]], %[[BYTE]]] : tensor<64x32xi8>
// CHECK: %[[ODD:.*]] = arith.remui %[[K]], %c2 : index
// CHECK: %[[SHIFT:.*]] = arith.muli %[[ODD]], %c4 : index
// CHECK: %[[SHIFT8:.*]] = arith.index_cast %[[SHIFT]] : index to i8
// CHECK: arith.shrui %[[PAIR]], %[[SHIFT8]] : i8
// CHECK: %[[GROUP:.*]] = arith.divui %[[K]], %c32 : index
// CHECK: %[[E8M0:.*]] = tensor.extract %[[S]][%{{.*}}, %[[GROUP]]] : tensor<64x2xf8E8M0FNU>
// CHECK: arith.bitcast %[[E8M0]] : f8E8M0FNU to i8
// CHECK: arith.shli %{{.*}}, %c23_i32 : i32
func.func @shared_mxfp4(%x: tensor<?x64xbf16>, %gu: tensor<64x32xi8>, %gus: tensor<64x2xf8E8M0FNU>,
                        %d: tensor<64x16xi8>, %ds: tensor<64x1xf8E8M0FNU>) -> tensor<?x64xbf16> {
  %w1 = moe.dequantize %gu, %gus block [1, 32] stacked 2 : tensor<64x32xi8>, tensor<64x2xf8E8M0FNU> -> tensor<64x64xbf16>
  %w2 = moe.dequantize %d, %ds block [1, 32] : tensor<64x16xi8>, tensor<64x1xf8E8M0FNU> -> tensor<64x32xbf16>
  %r = moe.shared_expert %x, %w1, %w2 ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return %r : tensor<?x64xbf16>
}

// A dequantize used whole is one linalg.generic over the result.
// CHECK-LABEL: func.func @whole(
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x64x96xbf16>)
// CHECK-NOT: moe.dequantize
func.func @whole(%q: tensor<2x64x48xi8>, %s: tensor<2x64x3xf8E8M0FNU>) -> tensor<2x64x96xbf16> {
  %0 = moe.dequantize %q, %s block [1, 32] : tensor<2x64x48xi8>, tensor<2x64x3xf8E8M0FNU> -> tensor<2x64x96xbf16>
  return %0 : tensor<2x64x96xbf16>
}
