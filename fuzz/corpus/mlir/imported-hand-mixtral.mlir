module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1>}, moe.model = {name = "hand-mixtral", num_layers = 2 : i64, source = "mixtral"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<4x64xbf16>, %arg2: tensor<4x64x64xbf16>, %arg3: tensor<4x64x32xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
