func.func @combine_rows(%rows: tensor<6x64xf32>, %p: tensor<6xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{has 6 routed rows, expected T * top_k = 4 * 2}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<6x64xf32>, tensor<6xi32>, tensor<4x2xf32>) -> tensor<4x64xbf16>
  return
}
