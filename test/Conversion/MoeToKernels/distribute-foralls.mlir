// RUN: moe-opt %s --moe-distribute-threads --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --moe-distribute-threads="shared-memory=0" --canonicalize --cse | FileCheck %s --check-prefix=ONE

// An scf.forall without mapping in a kernel block (the dispatch's scatter:
// one iteration per expert, each writing its own segment) is dealt out to
// the threads cyclically: thread t runs iterations t, t + 128, ... of the
// 10 (from 2 by 3: 2, 5, ..., 29) in an scf.for.
// CHECK-LABEL: func.func @segments(
// CHECK-SAME: block = [128, 1, 1]
// CHECK: scf.forall (%[[TID:.*]]) in (128) {
// CHECK-NEXT: scf.for %[[K:.*]] = %[[TID]] to %c10 step %c128 {
// CHECK-NEXT: %[[K3:.*]] = arith.muli %[[K]], %c3 : index
// CHECK-NEXT: %[[E:.*]] = arith.addi %[[K3]], %c2 : index
// CHECK-NEXT: %[[V:.*]] = arith.index_cast %[[E]] : index to i32
// CHECK-NEXT: memref.store %[[V]], %{{.*}}[%[[E]]]
// CHECK-NEXT: }
// CHECK-NEXT: } {mapping = [#gpu.thread<x>]}
// CHECK-NOT: scf.forall (%{{.*}}) in (10)

// A kernel that keeps one thread (its temporaries do not fit) runs the
// iterations in order on it.
// ONE-LABEL: func.func @segments(
// ONE-SAME: block = [1, 1, 1]
// ONE: scf.forall (%{{.*}}) in (1) {
// ONE-NEXT: scf.forall (%{{.*}}) in (1) {
// ONE-NEXT: scf.for %[[K:.*]] = %c0 to %c10 step %c1 {
// ONE: memref.store
// ONE: } {mapping = [#gpu.thread<x>]}
func.func @segments(%out: memref<32xi32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "dispatch", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c32 = arith.constant 32 : index
  scf.forall (%b) in (1) {
    %tmp = memref.alloc() : memref<4xi32>
    scf.forall (%e) = (%c2) to (%c32) step (%c3) {
      %v = arith.index_cast %e : index to i32
      memref.store %v, %out[%e] : memref<32xi32>
    }
    memref.dealloc %tmp : memref<4xi32>
  } {mapping = [#gpu.block<x>]}
  return
}
