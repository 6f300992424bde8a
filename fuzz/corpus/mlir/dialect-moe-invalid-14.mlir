func.func @gate_bias_after_topk(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{a correction bias needs scores before top-k, but scoring is softmax_after_topk}}
  %w, %i = moe.gate %l correction_bias %b routing <scoring = softmax_after_topk, topK = 2> : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
