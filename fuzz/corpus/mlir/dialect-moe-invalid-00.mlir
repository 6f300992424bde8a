func.func @router_hidden_mismatch(%x: tensor<?x64xbf16>, %w: tensor<8x32xbf16>) {
  // expected-error @+1 {{weight dimension 1 (H) is 32, but input dimension 1 says H = 64}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x32xbf16> -> tensor<?x8xf32>
  return
}
