func.func @routing_zero_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{topK must be at least 1, got 0}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 0> : tensor<?x8xf32> -> tensor<?x0xf32>, tensor<?x0xi32>
  return
}
