func.func @combine(%rows: tensor<8x64xf32>, %p: tensor<8xi32>) -> tensor<4x64xf32> {
  %0 = moe.combine %rows, %p {top_k = 4611686018427387904} : (tensor<8x64xf32>, tensor<8xi32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}
