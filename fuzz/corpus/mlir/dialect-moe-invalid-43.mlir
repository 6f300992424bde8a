func.func @shared_result_type(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>) {
  // expected-error @+1 {{input has element type 'bf16' but result has 'f16'}}
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>) -> tensor<?x64xf16>
  return
}
