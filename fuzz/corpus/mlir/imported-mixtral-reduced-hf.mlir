module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1>}, moe.model = {name = "mixtral-reduced", num_layers = 2 : i64, source = "mixtral"}} {
  func.func @moe_layer_0(%arg0: tensor<?x256xbf16>, %arg1: tensor<8x256xbf16>, %arg2: tensor<8x1792x256xbf16>, %arg3: tensor<8x256x896xbf16>) -> tensor<?x256xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x256xbf16>, tensor<8x256xbf16>, tensor<8x1792x256xbf16>, tensor<8x256x896xbf16>) -> tensor<?x256xbf16>
    return %0 : tensor<?x256xbf16>
  }
}
