func.func @layer_shared_without_down(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x64xbf16>) {
  // expected-error @+1 {{shared_gate_up and shared_down come together}}
  %0 = "moe.layer"(%x, %rw, %gu, %d, %sgu) <{routing = #moe.routing<scoring = softmax, topK = 2>, ffn = #moe.ffn<activation = silu_glu>, operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0>}> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}
