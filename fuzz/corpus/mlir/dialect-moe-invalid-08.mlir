func.func @gate_weights_width(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{weights dimension 1 (K) is 3, but routing dimension 0 says K = 2}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x8xf32> -> tensor<?x3xf32>, tensor<?x3xi32>
  return
}
