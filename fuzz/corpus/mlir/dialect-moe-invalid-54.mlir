func.func @misplaced() attributes {moe.model = {name = "m", source = "s", num_layers = 1 : i64}} {
  // expected-error @-1 {{'moe.model' belongs on a builtin.module}}
  return
}
