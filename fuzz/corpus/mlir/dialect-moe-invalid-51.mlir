// expected-error @+1 {{'moe.layer_map': layer 1 is mapped to more than one function}}
module attributes {moe.layer_map = {f = array<i64: 1>, g = array<i64: 1>}} {
  func.func @f() { return }
  func.func @g() { return }
}
