module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1>}, moe.model = {name = "hand-kimi-k2", num_layers = 2 : i64, source = "kimi_k2"}} {
  func.func @moe_layer_0(%arg0: tensor<?x32xbf16>, %arg1: tensor<8x32xbf16>, %arg2: tensor<8xf32>, %arg3: tensor<8x16x32xbf16>, %arg4: tensor<8x32x8xbf16>, %arg5: tensor<16x32xbf16>, %arg6: tensor<32x8xbf16>) -> tensor<?x32xbf16> {
    %0 = moe.layer %arg0, %arg1 correction_bias %arg2 experts(%arg3, %arg4) shared(%arg5, %arg6) routing <scoring = sigmoid, topK = 2, normalization = sum, normEpsilon = 9.9999999999999995E-21, groupScore = top2_sum, scalingFactor = 2.500000e+00> ffn <activation = silu_glu> : (tensor<?x32xbf16>, tensor<8x32xbf16>, tensor<8xf32>, tensor<8x16x32xbf16>, tensor<8x32x8xbf16>, tensor<16x32xbf16>, tensor<32x8xbf16>) -> tensor<?x32xbf16>
    return %0 : tensor<?x32xbf16>
  }
}
