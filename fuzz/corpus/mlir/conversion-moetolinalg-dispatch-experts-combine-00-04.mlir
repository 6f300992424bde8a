func.func @combine_unweighted(%rows: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = moe.combine %rows, %p {top_k = 1} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
