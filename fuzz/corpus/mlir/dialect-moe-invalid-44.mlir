func.func @layer_result_type(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{result type 'tensor<?x64xf32>' must equal the input type 'tensor<?x64xbf16>'}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}
