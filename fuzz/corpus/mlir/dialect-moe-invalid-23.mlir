func.func @routing_negative_epsilon(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normEpsilon must be finite and non-negative, got -1.000000e-03}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normEpsilon = -0.001> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
