func.func @routing_zero_groups(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{nGroup must be at least 1, got 0}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
