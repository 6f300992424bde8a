func.func @router_mixed_types(%x: tensor<?x64xbf16>, %w: tensor<8x64xf16>) {
  // expected-error @+1 {{input has element type 'bf16' but weight has 'f16'}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xf16> -> tensor<?x8xf32>
  return
}
