func.func @llama4(%x: tensor<?x64xbf16>, %rw: tensor<4x64xbf16>, %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
