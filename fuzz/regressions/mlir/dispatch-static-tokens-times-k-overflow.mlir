func.func @dispatch(%ids: tensor<4611686018427387904x4xi32>) -> (tensor<8xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<4611686018427387904x4xi32> -> tensor<8xi32>, tensor<9xi32>
  return %p, %o : tensor<8xi32>, tensor<9xi32>
}
