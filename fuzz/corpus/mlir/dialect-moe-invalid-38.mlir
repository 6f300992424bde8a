func.func @ffn_bad_limit(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{limit must be positive and finite, got 0.000000e+00}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = swiglu_oai, limit = 0.0> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}
