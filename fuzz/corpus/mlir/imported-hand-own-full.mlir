module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 2>, moe_layer_1 = array<i64: 1>}, moe.model = {name = "own", num_layers = 3 : i64, source = "moe-opt"}} {
  func.func @moe_layer_0(%arg0: tensor<?x16xf16>, %arg1: tensor<4x16xf16>, %arg2: tensor<4xf16>, %arg3: tensor<4x8x16xf16>, %arg4: tensor<4x16x8xf16>, %arg5: tensor<4x8xf16>, %arg6: tensor<4x16xf16>, %arg7: tensor<8x16xf16>, %arg8: tensor<16x8xf16>, %arg9: tensor<1x16xf16>) -> tensor<?x16xf16> {
    %0 = moe.layer %arg0, %arg1 router_bias %arg2 experts(%arg3, %arg4, bias %arg5, down_bias %arg6) shared(%arg7, %arg8, gate %arg9) routing <scoring = softmax, topK = 2, normalization = pnorm, normP = 2.000000e+00, normEpsilon = 9.9999999999999995E-7, nGroup = 2, scalingFactor = 1.500000e+00> ffn <activation = relu, alpha = 1.000000e+00, limit = 3.000000e+00> : (tensor<?x16xf16>, tensor<4x16xf16>, tensor<4xf16>, tensor<4x8x16xf16>, tensor<4x16x8xf16>, tensor<4x8xf16>, tensor<4x16xf16>, tensor<8x16xf16>, tensor<16x8xf16>, tensor<1x16xf16>) -> tensor<?x16xf16>
    return %0 : tensor<?x16xf16>
  }
  func.func @moe_layer_1(%arg0: tensor<?x16xf16>, %arg1: tensor<2x16xf16>, %arg2: tensor<2x8x16xf16>, %arg3: tensor<2x16x4xf16>) -> tensor<?x16xf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = swiglu_oai> : (tensor<?x16xf16>, tensor<2x16xf16>, tensor<2x8x16xf16>, tensor<2x16x4xf16>) -> tensor<?x16xf16>
    return %0 : tensor<?x16xf16>
  }
}
