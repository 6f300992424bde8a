func.func @shared_gated(%x: tensor<?x64xbf16>, %gu: tensor<96x64xbf16>, %d: tensor<64x48xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
