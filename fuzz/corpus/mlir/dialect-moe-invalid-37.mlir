func.func @experts_weight_type(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xf32>, %d: tensor<8x64x32xf32>) {
  // expected-error @+1 {{input has element type 'bf16' but gate_up has 'f32'}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xf32>, tensor<8x64x32xf32>) -> tensor<?x64xf32>
  return
}
