// RUN: moe-opt %s --moe-kernel-abi="tiles=16,1024,64,64,16" --moe-kernels-to-gpu -verify-diagnostics -o /dev/null
// RUN: moe-opt %S/kernels-to-gpu.mlir --moe-kernel-abi --moe-kernels-to-gpu -o /dev/null 2>&1 | FileCheck %s --allow-empty --implicit-check-not=warning

// A kernel whose block temporaries do not fit in shared memory runs one
// thread per block (moe-distribute-threads): it works, but slowly, so
// moe-kernels-to-gpu says so. Here 1024 rows per gate_up block; with the
// default tiles (the same layer in kernels-to-gpu.mlir) nothing is said.

module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0>}} {
func.func @moe_layer_0(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x96x64xbf16>, %d: tensor<8x64x48xbf16>) -> tensor<?x64xbf16> {
  // expected-warning @+1 {{kernel 'gate_up' runs one thread per block: its block temporaries do not fit in shared memory (moe-distribute-threads); smaller tiles would give it threads}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
}
