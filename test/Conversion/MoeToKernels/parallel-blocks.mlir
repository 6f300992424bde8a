// RUN: moe-opt %s --moe-parallel-blocks -split-input-file -verify-diagnostics | FileCheck %s

// A kernel's block forall becomes an scf.parallel over (y, x): the column
// tiles outermost, for OpenMP's static schedule. Its thread forall stays.
// CHECK-LABEL: func.func @kernel(
// CHECK-SAME: %[[OUT:.*]]: memref<?x8xf32>, %[[T:.*]]: index
// CHECK: %[[X:.*]] = arith.ceildivui %[[T]]
// CHECK: scf.parallel (%[[Y:.*]], %[[XI:.*]]) = (%{{.*}}, %{{.*}}) to (%c2, %[[X]]) step (%{{.*}}, %{{.*}})
// CHECK: scf.forall (%{{.*}}) in (1)
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[XI]], %[[Y]]]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK-NOT: scf.forall
func.func @kernel(%out: memref<?x8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "k", params = ["output", "T"], grid = (d0) -> (d0 ceildiv 4, 2, 1), block = [1, 1, 1]>} {
  %c4 = arith.constant 4 : index
  %x = arith.ceildivui %t, %c4 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%i, %j) in (%x, 2) {
    scf.forall (%k) in (1) {
      memref.store %one, %out[%i, %j] : memref<?x8xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<x>, #gpu.block<y>]}
  return
}

// -----

// Not a kernel function (no moe.kernel_abi): left alone.
// CHECK-LABEL: func.func @host(
// CHECK: scf.forall
// CHECK-NOT: scf.parallel
func.func @host(%out: memref<4xf32>) {
  %one = arith.constant 1.0 : f32
  scf.forall (%i) in (4) {
    memref.store %one, %out[%i] : memref<4xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A block forall on tensors (before bufferization) has results: refused.
func.func @with_results(%t: tensor<4xf32>) -> tensor<4xf32> attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "k", params = ["output"], grid = (d0) -> (4, 1, 1), block = [1, 1, 1]>} {
  // expected-error @+1 {{moe-parallel-blocks: the block forall has results; a kernel's blocks write memory}}
  %r = scf.forall (%i) in (4) shared_outs(%o = %t) -> tensor<4xf32> {
    scf.forall.in_parallel {
    }
  } {mapping = [#gpu.block<x>]}
  return %r : tensor<4xf32>
}
