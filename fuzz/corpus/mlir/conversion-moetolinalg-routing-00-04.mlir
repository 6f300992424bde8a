func.func @gate_pnorm(%l: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}
