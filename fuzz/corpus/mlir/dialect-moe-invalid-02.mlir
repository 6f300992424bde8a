func.func @router_rank(%x: tensor<64xbf16>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{input must have rank 2 [T, H], got 'tensor<64xbf16>'}}
  %0 = moe.router %x, %w : tensor<64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  return
}
