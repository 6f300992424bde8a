func.func @gate_topk_in_kept_groups(%l: tensor<?x16xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the experts in the 2 kept groups of 4}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 9, nGroup = 4, topkGroup = 2> : tensor<?x16xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}
