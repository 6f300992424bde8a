func.func @layer_shared_hidden(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x32xbf16>, %sd: tensor<32x32xbf16>) {
  // expected-error @+1 {{shared_down dimension 0 (H) is 32, but input dimension 1 says H = 64}}
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x32xbf16>, tensor<32x32xbf16>) -> tensor<?x64xbf16>
  return
}
