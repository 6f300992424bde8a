module attributes {moe.layer_map = {moe_layer_0 = array<i64: 1, 3>}, moe.model = {name = "hand-llama4", num_layers = 4 : i64, source = "llama4"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<4x64xbf16>, %arg2: tensor<4x64x64xbf16>, %arg3: tensor<4x64x32xbf16>, %arg4: tensor<64x64xbf16>, %arg5: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) shared(%arg4, %arg5) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
