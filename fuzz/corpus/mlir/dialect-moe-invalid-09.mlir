func.func @gate_token_mismatch(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{indices dimension 0 (T) is 5, but logits dimension 0 says T = 4}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<5x2xi32>
  return
}
