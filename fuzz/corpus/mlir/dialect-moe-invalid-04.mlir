func.func @router_bias_size(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<4xbf16>) {
  // expected-error @+1 {{bias dimension 0 (E) is 4, but weight dimension 0 says E = 8}}
  %0 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<4xbf16> -> tensor<?x8xf32>
  return
}
