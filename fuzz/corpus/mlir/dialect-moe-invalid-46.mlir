func.func @layer_router_experts(%x: tensor<?x64xbf16>, %rw: tensor<16x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{down dimension 0 (E) is 8, but router_weight dimension 0 says E = 16}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<16x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  return
}
