module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0, 1>}, moe.model = {name = "hand-olmoe", num_layers = 2 : i64, source = "olmoe"}} {
  func.func @moe_layer_0(%arg0: tensor<?x64xf32>, %arg1: tensor<8x64xf32>, %arg2: tensor<8x32x64xf32>, %arg3: tensor<8x64x16xf32>) -> tensor<?x64xf32> {
    %0 = moe.layer %arg0, %arg1 experts(%arg2, %arg3) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x32x64xf32>, tensor<8x64x16xf32>) -> tensor<?x64xf32>
    return %0 : tensor<?x64xf32>
  }
}
