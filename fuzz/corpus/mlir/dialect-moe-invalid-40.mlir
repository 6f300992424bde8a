func.func @combine_hidden(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{result dimension 1 (H) is 32, but rows dimension 1 says H = 64}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x32xbf16>
  return
}
