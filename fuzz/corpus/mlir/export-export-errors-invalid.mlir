module {
  func.func @f(%x: tensor<?x64xbf16>, %w: tensor<8x32xbf16>) -> tensor<?x8xf32> {
    %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x32xbf16> -> tensor<?x8xf32>
    return %0 : tensor<?x8xf32>
  }
}
