// RUN: moe-opt %s --convert-moe-to-linalg --canonicalize | FileCheck %s

// The router is a GEMM against the [E, H] weight, widened to f32 in the body,
// plus a row bias. Its reduction is split in 32 interleaved lanes (the
// largest power of two up to 32 that divides H = 64): [T, 2, 32] views of
// both operands, partial sums [T, E, 32] with the lanes the innermost
// parallel loop, then the lanes summed in order.
// CHECK-DAG: #[[$MIJ:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[$NIJ:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
// CHECK-DAG: #[[$MNJ:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$LANES:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$MN:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @router(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xbf16>, %[[W:.*]]: tensor<8x64xbf16>, %[[B:.*]]: tensor<8xbf16>)
// CHECK: %[[XS:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 2, 32] : tensor<?x64xbf16> into tensor<?x2x32xbf16>
// CHECK: %[[WS:.*]] = tensor.expand_shape %[[W]] {{\[}}[0], [1, 2]] output_shape [8, 2, 32] : tensor<8x64xbf16> into tensor<8x2x32xbf16>
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<?x8x32xf32>
// CHECK: %[[PARTIAL:.*]] = linalg.generic {indexing_maps = [#[[$MIJ]], #[[$NIJ]], #[[$MNJ]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[XS]], %[[WS]] : tensor<?x2x32xbf16>, tensor<8x2x32xbf16>) outs(%[[ZERO]] : tensor<?x8x32xf32>)
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[ZERO2:.*]] = linalg.fill {{.*}} -> tensor<?x8xf32>
// CHECK: %[[GEMM:.*]] = linalg.generic {indexing_maps = [#[[$LANES]], #[[$MN]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PARTIAL]] : tensor<?x8x32xf32>) outs(%[[ZERO2]] : tensor<?x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[GEMM]], %[[B]] : tensor<?x8xf32>, tensor<8xbf16>)
// CHECK-NOT: moe.
func.func @router(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<8xbf16>) -> tensor<?x8xf32> {
  %0 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// Softmax (row max, exp, row sum, divide), then top-2 as two argmax passes
// with the winner removed (-inf) in between, the ids stacked into [T, 2], the
// weights gathered from the probabilities and renormalized by their sum.
// CHECK-LABEL: func.func @gate_softmax(
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: %[[PROBS:.*]] = linalg.generic
// CHECK: arith.divf
// CHECK: %[[FIRST:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs({{.*}} : tensor<?xf32>, tensor<?xi32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi slt
// CHECK: %[[REMOVED:.*]] = linalg.generic {{.*}} ins(%[[PROBS]], %[[FIRST]]#1
// CHECK: arith.select {{.*}}, %cst{{.*}}, %{{.*}} : f32
// CHECK: %[[SECOND:.*]]:2 = linalg.generic {{.*}} ins(%[[REMOVED]]
// CHECK: %[[IDS:.*]] = linalg.generic {{.*}} ins(%[[FIRST]]#1, %[[SECOND]]#1 : tensor<?xi32>, tensor<?xi32>) outs({{.*}} : tensor<?x2xi32>)
// CHECK: %[[GATHERED:.*]] = linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x2xi32>)
// CHECK: tensor.extract %[[PROBS]]
// CHECK: %[[NORM:.*]] = linalg.generic {{.*}} ins(%[[GATHERED]] : tensor<?x2xf32>)
// CHECK: %[[WEIGHTS:.*]] = linalg.generic {{.*}} ins(%[[GATHERED]], %[[NORM]]
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.divf
// CHECK: return %[[WEIGHTS]], %[[IDS]]
func.func @gate_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// DeepSeek-V3: sigmoid, the correction bias on the selection scores only,
// groups viewed as [T, 4, 4] and scored by their two largest, one group-top-2
// pass, experts outside kept groups set to 0.0, and the weights gathered from
// the unbiased scores, renormalized with epsilon and scaled.
// CHECK-LABEL: func.func @gate_grouped(
// CHECK-SAME: %[[L:.*]]: tensor<?x16xf32>, %[[CB:.*]]: tensor<16xf32>)
// CHECK-DAG: arith.constant 9.99999968E-21 : f32
// CHECK-DAG: arith.constant 2.500000e+00 : f32
// CHECK: %[[SCORES:.*]] = linalg.generic {{.*}} ins(%[[L]] : tensor<?x16xf32>)
// CHECK: math.exp
// CHECK: %[[SEL:.*]] = linalg.generic {{.*}} ins(%[[SCORES]], %[[CB]] : tensor<?x16xf32>, tensor<16xf32>)
// CHECK: %[[GROUPED:.*]] = tensor.expand_shape %[[SEL]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 4, 4] : tensor<?x16xf32> into tensor<?x4x4xf32>
// CHECK: %[[TOP2:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[GROUPED]] : tensor<?x4x4xf32>)
// CHECK: %[[GSCORE:.*]] = linalg.generic {{.*}} ins(%[[TOP2]]#0, %[[TOP2]]#1 : tensor<?x4xf32>, tensor<?x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[GSCORE]] : tensor<?x4xf32>)
// CHECK: %[[KEPT:.*]] = linalg.generic {{.*}} outs({{.*}} : tensor<?x2xi32>)
// CHECK: %[[MASKED:.*]] = linalg.generic {{.*}} ins(%[[SEL]] : tensor<?x16xf32>)
// CHECK: arith.divui
// CHECK: tensor.extract %[[KEPT]]
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst{{.*}} : f32
// CHECK: linalg.generic {{.*}} ins(%[[MASKED]] : tensor<?x16xf32>)
// CHECK: tensor.extract %[[SCORES]]
func.func @gate_grouped(%l: tensor<?x16xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 4, normalization = sum, normEpsilon = 1.0e-20, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}

// gpt-oss: top-k on the raw logits (no scoring pass first), then a softmax
// over the k chosen values.
// CHECK-LABEL: func.func @gate_after_topk(
// CHECK-SAME: %[[L:.*]]: tensor<?x8xf32>)
// CHECK: %[[A:.*]]:2 = linalg.generic {{.*}} ins(%[[L]] : tensor<?x8xf32>)
// CHECK: %[[VALUES:.*]] = linalg.generic {{.*}} outs({{.*}} : tensor<?x2xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[VALUES]] : tensor<?x2xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
func.func @gate_after_topk(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax_after_topk, topK = 2> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// DBRX: the p-norm of the weights.
// CHECK-LABEL: func.func @gate_pnorm(
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-DAG: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[ABS:.*]] = math.absf
// CHECK: math.powf %[[ABS]], %[[TWO]]
// CHECK: math.powf %{{.*}}, %[[HALF]]
func.func @gate_pnorm(%l: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}

// PhiMoE's sparsemixer: per round an argmax, then the mass of the experts
// that stay in that round's softmax: not removed by an earlier round (-inf)
// and with a relative gap (max - l) / max(|l|, max) not above 2 * jitter_eps
// (0.5 here); the weight is 1 / mass. The winner is removed (-inf) before
// the second round.
// CHECK-LABEL: func.func @gate_sparsemixer(
// CHECK-SAME: %[[L:[a-z0-9]+]]: tensor<?x8xf32>)
// CHECK-DAG: %[[THRESHOLD:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[FIRST:.*]]:2 = linalg.generic {{.*}} ins(%[[L]] : tensor<?x8xf32>)
// CHECK: %[[MASS1:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[L]], %[[L]], %[[FIRST]]#0 :
// CHECK: ^bb0(%[[LOGIT:[a-z0-9_]+]]: f32, %[[REST:[a-z0-9_]+]]: f32, %[[MAX:[a-z0-9_]+]]: f32, %[[ACC:[a-z0-9_]+]]: f32):
// CHECK: %[[REMOVED:.*]] = arith.cmpf oeq, %[[REST]], %[[NEGINF]]
// CHECK: %[[ABS:.*]] = math.absf %[[LOGIT]]
// CHECK: %[[FACTOR:.*]] = arith.maximumf %[[ABS]], %[[MAX]]
// CHECK: %[[DIFF:.*]] = arith.subf %[[MAX]], %[[LOGIT]]
// CHECK: %[[GAP:.*]] = arith.divf %[[DIFF]], %[[FACTOR]]
// CHECK: %[[MASKED:.*]] = arith.cmpf ogt, %[[GAP]], %[[THRESHOLD]]
// CHECK: %[[DROP:.*]] = arith.ori %[[REMOVED]], %[[MASKED]]
// CHECK: math.exp
// CHECK: arith.select %[[DROP]]
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[REST2:.*]] = linalg.generic {{.*}} ins(%[[L]], %[[FIRST]]#1 :
// CHECK: arith.select %{{.*}}, %[[NEGINF]], %{{.*}} : f32
// CHECK: %[[SECOND:.*]]:2 = linalg.generic {{.*}} ins(%[[REST2]] : tensor<?x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[L]], %[[REST2]], %[[SECOND]]#0 :
// CHECK-NOT: moe.
func.func @gate_sparsemixer(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = sparsemixer, topK = 2, jitterEps = 0.25> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// ERNIE 4.5's normalization: the sum of the chosen weights clamped from
// below by norm_min (0.5 here) before the division.
// CHECK-LABEL: func.func @gate_norm_min(
// CHECK-DAG: %[[NORMMIN:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<?x2xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]] :
// CHECK: %[[D:.*]] = arith.maximumf %{{.*}}, %[[NORMMIN]] : f32
// CHECK: arith.divf %{{.*}}, %[[D]] : f32
func.func @gate_norm_min(%l: tensor<?x8xf32>, %b: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = softmax, topK = 2, normalization = sum, normMin = 0.5> : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
