func.func @router_int_input(%x: tensor<?x64xi8>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %0 = moe.router %x, %w : tensor<?x64xi8>, tensor<8x64xbf16> -> tensor<?x8xf32>
  return
}
