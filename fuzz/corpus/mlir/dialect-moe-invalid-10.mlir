func.func @gate_dynamic_experts(%l: tensor<?x?xf32>) {
  // expected-error @+1 {{logits need a static expert dimension, got 'tensor<?x?xf32>'}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x?xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
