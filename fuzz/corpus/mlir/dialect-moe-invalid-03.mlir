func.func @router_dynamic_weight(%x: tensor<?x64xbf16>, %w: tensor<?x64xbf16>) {
  // expected-error @+1 {{weight must have a static shape, got 'tensor<?x64xbf16>'}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<?x64xbf16> -> tensor<?x8xf32>
  return
}
