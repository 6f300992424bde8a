// The router is a GEMM against the [E, H] weight, widened to f32 in the body,
// plus a row bias.
func.func @router(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<8xbf16>) -> tensor<?x8xf32> {
  %0 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// Softmax (row max, exp, row sum, divide), then top-2 as two argmax passes
// with the winner removed (-inf) in between, the ids stacked into [T, 2], the
// weights gathered from the probabilities and renormalized by their sum.
func.func @gate_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// DeepSeek-V3: sigmoid, the correction bias on the selection scores only,
// groups viewed as [T, 4, 4] and scored by their two largest, one group-top-2
// pass, experts outside kept groups set to 0.0, and the weights gathered from
// the unbiased scores, renormalized with epsilon and scaled.
func.func @gate_grouped(%l: tensor<?x16xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 4, normalization = sum, normEpsilon = 1.0e-20, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}

// gpt-oss: top-k on the raw logits (no scoring pass first), then a softmax
// over the k chosen values.
func.func @gate_after_topk(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax_after_topk, topK = 2> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

func.func @gate_pnorm(%l: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}
