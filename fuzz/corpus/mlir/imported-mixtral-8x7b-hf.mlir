module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31>}, moe.model = {name = "mixtral-8x7b", num_layers = 32 : i64, source = "mixtral"}} {
  func.func @moe_layer_0(%arg0: tensor<?x4096xbf16>, %arg1: tensor<8x4096xbf16>, %arg2: tensor<8x28672x4096xbf16>, %arg3: tensor<8x4096x14336xbf16>) -> tensor<?x4096xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x4096xbf16>, tensor<8x4096xbf16>, tensor<8x28672x4096xbf16>, tensor<8x4096x14336xbf16>) -> tensor<?x4096xbf16>
    return %0 : tensor<?x4096xbf16>
  }
}
