func.func @gate_grouped(%l: tensor<4x256xf32>, %b: tensor<256xf32>) -> (tensor<4x8xf32>, tensor<4x8xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 8, normalization = sum, normEpsilon = 1.0e-20, nGroup = 8, topkGroup = 4, groupScore = top2_sum, scalingFactor = 2.5, placement = output> : tensor<4x256xf32>, tensor<256xf32> -> tensor<4x8xf32>, tensor<4x8xi32>
  return %w, %i : tensor<4x8xf32>, tensor<4x8xi32>
}
