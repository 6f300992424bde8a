func.func @gate_group_divides(%l: tensor<?x10xf32>) {
  // expected-error @+1 {{nGroup (4) does not divide the number of experts (10)}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 4, topkGroup = 2> : tensor<?x10xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
