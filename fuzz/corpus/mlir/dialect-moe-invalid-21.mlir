func.func @routing_negative_scaling(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{scalingFactor must be positive and finite, got -1.000000e+00}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, scalingFactor = -1.0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
