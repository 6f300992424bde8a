module attributes {moe.model = {name = "s", source = "moe-opt", num_layers = 2 : i64}, moe.layer_map = {f = array<i64: 0, 1>}} {
  func.func @f(%x: tensor<4x16xf32>, %rw: tensor<8x16xf32>, %gu: tensor<8x8x16xf32>, %d: tensor<8x16x8xf32>, %sgu: tensor<8x16xf32>, %sd: tensor<16x8xf32>) -> tensor<4x16xf32> {
    %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = relu> : (tensor<4x16xf32>, tensor<8x16xf32>, tensor<8x8x16xf32>, tensor<8x16x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
    return %0 : tensor<4x16xf32>
  }
}
