module attributes {moe.layer_map = {moe_layer_0 = array<i64: 1, 3>}, moe.model = {name = "hand-qwen2-moe", num_layers = 4 : i64, source = "qwen2_moe"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xf16>, %arg1: tensor<8x64xf16>, %arg2: tensor<8x32x64xf16>, %arg3: tensor<8x64x16xf16>, %arg4: tensor<64x64xf16>, %arg5: tensor<64x32xf16>, %arg6: tensor<1x64xf16>) -> tensor<?x64xf16> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) shared(%arg4, %arg5, gate %arg6) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8x32x64xf16>, tensor<8x64x16xf16>, tensor<64x64xf16>, tensor<64x32xf16>, tensor<1x64xf16>) -> tensor<?x64xf16>
    return %0 : tensor<?x64xf16>
  }
}
