func.func @routing_missing_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{struct is missing required parameter: topK}}
  %w, %i = moe.gate %l routing <scoring = softmax> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
