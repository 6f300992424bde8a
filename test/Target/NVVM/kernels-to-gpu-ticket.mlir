// RUN: moe-opt %s --pass-pipeline="builtin.module(func.func(moe-fuse-launches),moe-outline-kernels,moe-distribute-threads,moe-kernels-to-gpu)" | FileCheck %s

// The ticket of moe-fuse-launches on the GPU, in full: the copy kernel's
// writes (every thread), a barrier, thread 0 takes the ticket between
// gpu-scope fences and leaves it in shared memory, a barrier, every thread
// reads it, and the block with ticket T - 1 runs the one-block kernel's
// fill (all threads, behind a barrier, as any op).

// CHECK-LABEL: gpu.func @layer_copy_zero(
// CHECK-SAME: %[[COUNTER:[^:]*]]: memref<1xi32>, %[[T:[^:]*]]: index) kernel
// CHECK-SAME: kernel = "copy_zero", {{.*}} grid = (d0) -> (d0, 1, 1)
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: linalg.copy
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: memref.store
// CHECK-NOT: linalg
// CHECK: %[[VIEW:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1xi32, #gpu.address_space<workgroup>>
// CHECK-NEXT: %[[TICKET:.*]] = memref.memory_space_cast %[[VIEW]]
// CHECK-NEXT: %[[TID:.*]] = gpu.thread_id x
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[FIRST:.*]] = arith.cmpi ult, %[[TID]], %[[ONE]] : index
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: %[[TAKEN:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNTER]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: memref.store %[[TAKEN]], %[[TICKET]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[MINE:.*]] = memref.load %[[TICKET]]
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[LAST:.*]] = arith.subi %[[T]], %{{.*}} : index
// CHECK-NEXT: %[[LAST32:.*]] = arith.index_cast %[[LAST]] : index to i32
// CHECK-NEXT: %[[IS_LAST:.*]] = arith.cmpi eq, %[[MINE]], %[[LAST32]] : i32
// CHECK-NEXT: scf.if %[[IS_LAST]] {
// CHECK-NEXT: gpu.barrier
// CHECK: linalg.fill
// CHECK: gpu.barrier
// CHECK-NEXT: }
// CHECK-NEXT: gpu.return
func.func @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  %sum = memref.alloc() : memref<4xf32>
  scf.forall (%i) in (%t) {
    %row = memref.subview %x[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    %orow = memref.subview %out[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    linalg.copy ins(%row : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%orow : memref<1x4xf32, strided<[4, 1], offset: ?>>)
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  scf.forall (%b) in (1) {
    linalg.fill ins(%zero : f32) outs(%sum : memref<4xf32>)
  } {mapping = [#gpu.block<x>], moe.kernel = "zero"}
  memref.dealloc %sum : memref<4xf32>
  return %out : memref<?x4xf32>
}
