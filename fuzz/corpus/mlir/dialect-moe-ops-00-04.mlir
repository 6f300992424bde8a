func.func @dispatch(%ids: tensor<?x2xi32>, %ids4: tensor<4x2xi32>) -> (tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %p4, %o4 = moe.dispatch %ids4 {num_experts = 8} : tensor<4x2xi32> -> tensor<8xi32>, tensor<9xi32>
  return %p, %o, %p4, %o4 : tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>
}
