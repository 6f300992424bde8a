// Exporting needs the composite form and the module attributes.
// RUN: split-file %s %t
// RUN: not moe-translate --export-moe-json %t/decomposed.mlir -o %t/decomposed.json 2>&1 | FileCheck %s --check-prefix=DECOMPOSED
// RUN: not test -e %t/decomposed.json
// RUN: not moe-translate --export-moe-json %t/no-attrs.mlir 2>&1 | FileCheck %s --check-prefix=NOATTRS
// RUN: not moe-translate --export-moe-json %t/invalid.mlir 2>&1 | FileCheck %s --check-prefix=INVALID

// DECOMPOSED: decomposed.mlir:2:3: error: reading the model back needs exactly one moe.layer in @f, found 0 (before moe-decompose-layer)
// NOATTRS: no-attrs.mlir:1:1: error: reading the model back needs the module attributes 'moe.model' and 'moe.layer_map'
// INVALID: invalid.mlir:3:10: error: 'moe.router' op weight dimension 1 (H) is 32, but input dimension 1 says H = 64

//--- decomposed.mlir
module attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 1 : i64}, moe.layer_map = {f = array<i64: 0>}} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}
//--- no-attrs.mlir
module {
}
//--- invalid.mlir
module {
  func.func @f(%x: tensor<?x64xbf16>, %w: tensor<8x32xbf16>) -> tensor<?x8xf32> {
    %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x32xbf16> -> tensor<?x8xf32>
    return %0 : tensor<?x8xf32>
  }
}
