module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1, 2>}, moe.model = {name = "hand-qwen3-moe", num_layers = 3 : i64, source = "qwen3_moe"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<8x64xbf16>, %arg2: tensor<8x32x64xbf16>, %arg3: tensor<8x64x16xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 4, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x16xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
