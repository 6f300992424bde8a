func.func @experts_row_count(%x: tensor<4x64xbf16>, %p: tensor<6xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{has 6 routed rows, expected T * top_k = 4 * 2}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<4x64xbf16>, tensor<6xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<6x64xf32>
  return
}
