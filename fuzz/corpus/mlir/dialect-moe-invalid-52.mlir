// expected-error @+1 {{'moe.model' needs a positive integer 'num_layers'}}
module attributes {moe.model = {name = "m", source = "moe-opt"}} {
}
