func.func @layer_full(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %rb: tensor<8xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>, %sgu: tensor<96x64xbf16>, %sd: tensor<64x48xbf16>, %sg: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 4> ffn <activation = swiglu_oai> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
