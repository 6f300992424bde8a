module attributes {moe.layer_map = {moe_layer_0 = array<i64: 1, 2, 3>}, moe.model = {name = "hand-deepseek-v3", num_layers = 4 : i64, source = "deepseek_v3"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<16x64xbf16>, %arg2: tensor<16xf32>, %arg3: tensor<16x32x64xbf16>, %arg4: tensor<16x64x16xbf16>, %arg5: tensor<32x64xbf16>, %arg6: tensor<64x16xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 correction_bias %arg2 experts(%arg3, %arg4) shared(%arg5, %arg6) routing <scoring = sigmoid, topK = 4, normalization = sum, normEpsilon = 9.9999999999999995E-21, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.500000e+00> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<16x64xbf16>, tensor<16xf32>, tensor<16x32x64xbf16>, tensor<16x64x16xbf16>, tensor<32x64xbf16>, tensor<64x16xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
