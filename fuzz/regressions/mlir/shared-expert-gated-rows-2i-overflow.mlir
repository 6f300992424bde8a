func.func @shared(%x: tensor<?x64xf32>, %gu: tensor<8x64xf32>, %d: tensor<64x4611686018427387904xf32>) -> tensor<?x64xf32> {
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<64x4611686018427387904xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
