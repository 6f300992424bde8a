func.func @dispatch_zero_experts(%ids: tensor<?x2xi32>) {
  // expected-error @+1 {{attribute 'num_experts' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %p, %o = moe.dispatch %ids {num_experts = 0} : tensor<?x2xi32> -> tensor<?xi32>, tensor<1xi32>
  return
}
