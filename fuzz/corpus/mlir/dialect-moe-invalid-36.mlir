func.func @experts_row_scale(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %s: tensor<?x2xf32>) {
  // expected-error @+1 {{row_scale dimension 1 (K) is 2, but top_k dimension 0 says K = 1}}
  %0 = moe.experts %x, %p, %o, %gu, %d row_scale %s ffn <activation = silu_glu> {top_k = 1} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return
}
