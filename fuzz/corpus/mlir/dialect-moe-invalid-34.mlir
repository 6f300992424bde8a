func.func @experts_bias(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %b: tensor<8x32xbf16>) {
  // expected-error @+1 {{gate_up_bias has 32 entries per expert, expected 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %b ffn <activation = swiglu_oai> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x32xbf16>) -> tensor<?x64xf32>
  return
}
