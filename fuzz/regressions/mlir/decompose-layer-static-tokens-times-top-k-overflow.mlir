func.func @layer(%x: tensor<4611686018427387904x64xf32>, %rw: tensor<8x64xf32>, %gu: tensor<8x64x64xf32>, %d: tensor<8x64x32xf32>) -> tensor<4611686018427387904x64xf32> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<4611686018427387904x64xf32>, tensor<8x64xf32>, tensor<8x64x64xf32>, tensor<8x64x32xf32>) -> tensor<4611686018427387904x64xf32>
  return %0 : tensor<4611686018427387904x64xf32>
}
