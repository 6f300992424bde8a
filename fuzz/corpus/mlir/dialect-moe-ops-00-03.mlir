func.func @gate_pnorm_and_input_placement(%l: tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  %w1, %i1 = moe.gate %l routing <scoring = sigmoid_after_topk, topK = 1, placement = input> : tensor<?x16xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  return %w, %i, %w1, %i1 : tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>
}
