func.func @layer_correction_bias_type(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %cb: tensor<8xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit float values, but got 'tensor<8xbf16>'}}
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) routing <scoring = sigmoid, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  return
}
