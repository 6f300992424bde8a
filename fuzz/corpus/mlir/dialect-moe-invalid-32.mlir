func.func @experts_offsets(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<8xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{offsets dimension 0 (E+1) is 8, but E dimension 0 says E+1 = 9}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<8xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}
