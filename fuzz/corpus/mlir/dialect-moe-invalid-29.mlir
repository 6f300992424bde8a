func.func @experts_gate_up_rows(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x32x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{gate_up has 32 rows, but silu_glu with down intermediate size I = 32 needs 2I = 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}
