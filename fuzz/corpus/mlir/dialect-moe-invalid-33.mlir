func.func @experts_hidden(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x48x32xbf16>) {
  // expected-error @+1 {{down dimension 1 (H) is 48, but input dimension 1 says H = 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x48x32xbf16>) -> tensor<?x64xf32>
  return
}
