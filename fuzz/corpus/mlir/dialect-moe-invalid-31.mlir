func.func @experts_expert_count(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<4x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{gate_up dimension 0 (E) is 4, but down dimension 0 says E = 8}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<4x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}
