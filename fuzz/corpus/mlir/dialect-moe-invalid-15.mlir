func.func @gate_bias_size(%l: tensor<?x8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{correction_bias dimension 0 (E) is 7, but logits dimension 1 says E = 8}}
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 2> : tensor<?x8xf32>, tensor<7xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
