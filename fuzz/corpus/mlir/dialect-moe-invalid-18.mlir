func.func @routing_topk_group(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{topkGroup must be in [1, nGroup = 2], got 3}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 2, topkGroup = 3> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
