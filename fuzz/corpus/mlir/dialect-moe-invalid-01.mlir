func.func @router_logits_experts(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{logits dimension 1 (E) is 4, but weight dimension 0 says E = 8}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x4xf32>
  return
}
