func.func @experts_swiglu_oai(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %gub down_bias %db ffn <activation = swiglu_oai> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
