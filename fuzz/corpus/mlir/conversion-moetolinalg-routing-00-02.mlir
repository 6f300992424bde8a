func.func @gate_grouped(%l: tensor<?x16xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 4, normalization = sum, normEpsilon = 1.0e-20, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %w, %i : tensor<?x4xf32>, tensor<?x4xi32>
}
