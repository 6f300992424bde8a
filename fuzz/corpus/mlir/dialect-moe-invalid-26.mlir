func.func @dispatch_offsets(%ids: tensor<?x2xi32>) {
  // expected-error @+1 {{offsets dimension 0 (E+1) is 8, but num_experts dimension 0 says E+1 = 9}}
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<8xi32>
  return
}
