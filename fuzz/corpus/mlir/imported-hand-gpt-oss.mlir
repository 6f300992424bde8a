module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1>}, moe.model = {name = "hand-gpt-oss", num_layers = 2 : i64, source = "gpt_oss"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xbf16>, %arg1: tensor<4x64xbf16>, %arg2: tensor<4xbf16>, %arg3: tensor<4x64x64xbf16>, %arg4: tensor<4x64x32xbf16>, %arg5: tensor<4x64xbf16>, %arg6: tensor<4x64xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %arg0, %arg1 router_bias %arg2 experts(%arg3, %arg4, bias %arg5, down_bias %arg6) routing <scoring = softmax_after_topk, topK = 2> ffn <activation = swiglu_oai> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<4x64xbf16>, tensor<4x64xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
