func.func @biases_and_gate(%x: tensor<?x64xf16>, %rw: tensor<8x64xf16>, %rb: tensor<8xf16>, %gu: tensor<8x64x64xf16>, %d: tensor<8x64x32xf16>, %gub: tensor<8x64xf16>, %db: tensor<8x64xf16>, %sgu: tensor<64x64xf16>, %sd: tensor<64x32xf16>, %sg: tensor<1x64xf16>) -> tensor<?x64xf16> {
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 2> ffn <activation = swiglu_oai> : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>, tensor<8x64x64xf16>, tensor<8x64x32xf16>, tensor<8x64xf16>, tensor<8x64xf16>, tensor<64x64xf16>, tensor<64x32xf16>, tensor<1x64xf16>) -> tensor<?x64xf16>
  return %0 : tensor<?x64xf16>
}
