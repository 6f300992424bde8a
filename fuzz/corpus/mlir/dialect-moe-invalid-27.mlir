func.func @dispatch_rows(%ids: tensor<4x2xi32>) {
  // expected-error @+1 {{permutation has 6 entries, expected T * K = 8}}
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<4x2xi32> -> tensor<6xi32>, tensor<9xi32>
  return
}
