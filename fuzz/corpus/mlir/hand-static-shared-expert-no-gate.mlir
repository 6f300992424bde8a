func.func @f(%x: tensor<4x16xf32>, %gu: tensor<16x16xf32>, %d: tensor<16x8xf32>) -> tensor<4x16xf32> {
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = gelu_glu> : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}
