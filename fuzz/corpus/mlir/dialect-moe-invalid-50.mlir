// expected-error @+1 {{'moe.layer_map': layer 4 of @f is outside the model's 4 layers}}
module attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 4 : i64}, moe.layer_map = {f = array<i64: 4>}} {
  func.func @f() { return }
}
