func.func @combine(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) -> tensor<?x64xbf16> {
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
