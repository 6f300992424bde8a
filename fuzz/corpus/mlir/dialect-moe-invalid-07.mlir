func.func @gate_topk_exceeds_experts(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the number of experts (8)}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 9> : tensor<?x8xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}
