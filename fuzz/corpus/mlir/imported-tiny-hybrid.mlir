module attributes {moe.layer_map = {moe_layer_0 = array<i64: 1, 3, 5>, moe_layer_1 = array<i64: 2, 4>}, moe.model = {name = "tiny-hybrid", num_layers = 6 : i64, source = "moe-opt"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xf32>, %arg1: tensor<8x64xf32>, %arg2: tensor<8x64x64xf32>, %arg3: tensor<8x64x32xf32>) -> tensor<?x64xf32> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x64x64xf32>, tensor<8x64x32xf32>) -> tensor<?x64xf32>
    return %0 : tensor<?x64xf32>
  }
  func.func @moe_layer_1(%arg0: tensor<?x64xf32>, %arg1: tensor<12x64xf32>, %arg2: tensor<12xf32>, %arg3: tensor<12x32x64xf32>, %arg4: tensor<12x64x16xf32>, %arg5: tensor<96x64xf32>, %arg6: tensor<64x48xf32>, %arg7: tensor<1x64xf32>) -> tensor<?x64xf32> {
    %0 = moe.layer %arg0, %arg1 correction_bias %arg2 experts(%arg3, %arg4) shared(%arg5, %arg6, gate %arg7) routing <scoring = sigmoid, topK = 3, normalization = sum, normEpsilon = 9.9999999999999995E-21, nGroup = 3, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.500000e+00> ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<12x64xf32>, tensor<12xf32>, tensor<12x32x64xf32>, tensor<12x64x16xf32>, tensor<96x64xf32>, tensor<64x48xf32>, tensor<1x64xf32>) -> tensor<?x64xf32>
    return %0 : tensor<?x64xf32>
  }
}
