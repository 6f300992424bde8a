module attributes {moe.layer_map = {moe_layer_0 = array<i64: 1, 2>}, moe.model = {name = "hand-deepseek-v2", num_layers = 3 : i64, source = "deepseek_v2"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<8x64xbf16>, %arg2: tensor<8x32x64xbf16>, %arg3: tensor<8x64x16xbf16>, %arg4: tensor<64x64xbf16>, %arg5: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) shared(%arg4, %arg5) routing <scoring = softmax, topK = 2, nGroup = 4, topkGroup = 2, scalingFactor = 1.600000e+01> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x16xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
