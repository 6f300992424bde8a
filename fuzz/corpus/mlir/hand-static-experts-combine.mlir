func.func @f(%x: tensor<4x16xf32>, %p: tensor<8xi32>, %o: tensor<9xi32>, %gu: tensor<8x16x16xf32>, %d: tensor<8x16x8xf32>, %w: tensor<4x2xf32>) -> tensor<4x16xf32> {
  %r = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<4x16xf32>, tensor<8xi32>, tensor<9xi32>, tensor<8x16x16xf32>, tensor<8x16x8xf32>) -> tensor<8x16xf32>
  %c = moe.combine %r, %p weights %w {top_k = 2} : (tensor<8x16xf32>, tensor<8xi32>, tensor<4x2xf32>) -> tensor<4x16xf32>
  return %c : tensor<4x16xf32>
}
