func.func @experts_relu_row_scale(%x: tensor<?x64xf16>, %p: tensor<?xi32>, %o: tensor<5xi32>, %u: tensor<4x32x64xf16>, %d: tensor<4x64x32xf16>, %s: tensor<?x1xf32>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %u, %d row_scale %s ffn <activation = relu> {top_k = 1} : (tensor<?x64xf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x32x64xf16>, tensor<4x64x32xf16>, tensor<?x1xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
