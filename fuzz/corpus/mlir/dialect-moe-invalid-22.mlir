func.func @routing_bad_pnorm(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normP must be a positive finite number, got 0.000000e+00}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = pnorm, normP = 0.0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
