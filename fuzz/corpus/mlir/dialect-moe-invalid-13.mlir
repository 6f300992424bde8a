func.func @gate_top2_sum_singletons(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{group score top2_sum needs at least 2 experts per group, got 1}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 8, topkGroup = 4, groupScore = top2_sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
