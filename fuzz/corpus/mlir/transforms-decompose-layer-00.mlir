// Output placement: the gate's weights scale the combine.
func.func @mixtral(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// Correction bias goes to the gate; a shared expert is added to the combine
// (in f32 both, here the storage type).
func.func @deepseek(%x: tensor<4x64xf32>, %rw: tensor<16x64xf32>, %cb: tensor<16xf32>, %gu: tensor<16x64x64xf32>, %d: tensor<16x64x32xf32>, %sgu: tensor<128x64xf32>, %sd: tensor<64x64xf32>) -> tensor<4x64xf32> {
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> ffn <activation = silu_glu> : (tensor<4x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64x64xf32>, tensor<16x64x32xf32>, tensor<128x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// Input placement (Llama 4): the weights scale the expert input rows and the
// combine sums unweighted.
func.func @llama4(%x: tensor<?x64xbf16>, %rw: tensor<4x64xbf16>, %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// gpt-oss: the router bias and both expert biases are passed through; the
// Qwen2-MoE style sigmoid gate reaches the shared expert.
func.func @biases_and_gate(%x: tensor<?x64xf16>, %rw: tensor<8x64xf16>, %rb: tensor<8xf16>, %gu: tensor<8x64x64xf16>, %d: tensor<8x64x32xf16>, %gub: tensor<8x64xf16>, %db: tensor<8x64xf16>, %sgu: tensor<64x64xf16>, %sd: tensor<64x32xf16>, %sg: tensor<1x64xf16>) -> tensor<?x64xf16> {
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 2> ffn <activation = swiglu_oai> : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>, tensor<8x64x64xf16>, tensor<8x64x32xf16>, tensor<8x64xf16>, tensor<8x64xf16>, tensor<64x64xf16>, tensor<64x32xf16>, tensor<1x64xf16>) -> tensor<?x64xf16>
  return %0 : tensor<?x64xf16>
}
