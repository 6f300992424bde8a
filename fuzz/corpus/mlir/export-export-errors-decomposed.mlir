module attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 1 : i64}, moe.layer_map = {f = array<i64: 0>}} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}
