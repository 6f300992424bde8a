module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0>}, moe.model = {name = "m", num_layers = 1 : i64, source = "moe-opt"}} {
  func.func @moe_layer_0(%arg0: tensor<?x8xbf16>, %arg1: tensor<2x8xbf16>, %arg2: tensor<2x8x8xbf16>, %arg3: tensor<2x8x4xbf16>) -> tensor<?x8xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 1> ffn <activation = gelu_glu> : (tensor<?x8xbf16>, tensor<2x8xbf16>, tensor<2x8x8xbf16>, tensor<2x8x4xbf16>) -> tensor<?x8xbf16>
    return %0 : tensor<?x8xbf16>
  }
}
