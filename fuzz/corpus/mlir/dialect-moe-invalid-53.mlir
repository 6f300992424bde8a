// expected-error @+1 {{unknown moe dialect attribute 'moe.layers'}}
module attributes {moe.layers = 1} {
}
