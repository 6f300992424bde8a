func.func @combine_weights(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x3xf32>) {
  // expected-error @+1 {{weights dimension 1 (K) is 3, but top_k dimension 0 says K = 2}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x3xf32>) -> tensor<?x64xbf16>
  return
}
