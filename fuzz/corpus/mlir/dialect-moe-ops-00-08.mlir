func.func @shared_expert(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
