func.func @shared_gate_shape(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>, %g: tensor<2x64xbf16>) {
  // expected-error @+1 {{gate must be one row [1, H], got 'tensor<2x64xbf16>'}}
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>, tensor<2x64xbf16>) -> tensor<?x64xbf16>
  return
}
