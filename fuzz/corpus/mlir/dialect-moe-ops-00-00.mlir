func.func @router(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<8xbf16>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %1 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}
