func.func @routing_grouped_after_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{grouped selection (nGroup = 2) needs scores before top-k, but scoring is sigmoid_after_topk}}
  %w, %i = moe.gate %l routing <scoring = sigmoid_after_topk, topK = 1, nGroup = 2> : tensor<?x8xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  return
}
