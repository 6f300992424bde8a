func.func @mixtral(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
