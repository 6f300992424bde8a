func.func @layer_shared_gate_shape(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>, %sg: tensor<64xbf16>) {
  // expected-error @+1 {{shared_gate must have rank 2 [*, H], got 'tensor<64xbf16>'}}
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd, gate %sg) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
  return
}
