// expected-error @+1 {{'moe.layer_map' names function @missing, which is not in the module}}
module attributes {moe.layer_map = {missing = array<i64: 0>}} {
}
