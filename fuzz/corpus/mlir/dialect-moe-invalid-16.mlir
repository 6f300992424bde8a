func.func @gate_f16_logits(%l: tensor<?x8xf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x8xf16> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
