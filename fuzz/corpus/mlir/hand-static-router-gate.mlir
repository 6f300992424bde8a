func.func @f(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> (tensor<4x2xf32>, tensor<4x2xi32>) {
  %l = moe.router %x, %w bias %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %w2, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 2, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum> : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return %w2, %i : tensor<4x2xf32>, tensor<4x2xi32>
}
