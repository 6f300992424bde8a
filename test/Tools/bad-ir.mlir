// Invalid IR through moe-opt: exit 1, the verifier's message, no output file.
// RUN: rm -f %t.out
// RUN: not moe-opt %s -o %t.out 2>&1 | FileCheck %s
// RUN: not test -e %t.out
// RUN: not moe-opt %S/does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK: bad-ir.mlir:[[# @LINE + 2]]:12: error: 'moe.gate' op top_k (9) exceeds the number of experts (8)
func.func @f(%l: tensor<?x8xf32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 9> : tensor<?x8xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}
// MISSING: cannot open input file '{{.*}}does-not-exist.mlir'
