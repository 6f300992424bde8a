// RUN: moe-opt %s --pass-pipeline="builtin.module(func.func(moe-fuse-launches),moe-outline-kernels,moe-distribute-threads,moe-kernels-to-gpu)" | FileCheck %s

// Two independent kernels side by side on the GPU (moe-fuse-launches): the
// block picks its branch; each branch's temporaries lie at the start of
// the dynamic shared memory, over the other branch's (a block runs one),
// so the launch asks for the larger of the two (1024 bytes, not 1536).
// Each branch's ops are shared among the block's threads, behind barriers.

// CHECK-LABEL: gpu.func @layer_scale_shift(
// CHECK-SAME: kernel = "scale_shift", {{.*}} grid = (d0) -> (d0 + d0 ceildiv 2, 1, 1), block = [64, 1, 1], shared_memory = 1024>
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: %[[FIRST:.*]] = arith.cmpi ult
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT: memref.view %[[SMEM]][%[[C0]]][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128xf32, #gpu.address_space<workgroup>>
// CHECK: linalg.fill
// CHECK: gpu.barrier
// CHECK: linalg.copy
// CHECK: gpu.barrier
// CHECK-NEXT: } else {
// CHECK-NEXT: %[[ROW:.*]] = arith.subi %{{.*}}, %{{.*}} : index
// CHECK-NEXT: %[[C0B:.*]] = arith.constant 0 : index
// CHECK-NEXT: memref.view %[[SMEM]][%[[C0B]]][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<256xf32, #gpu.address_space<workgroup>>
// CHECK: linalg.fill
// CHECK: gpu.barrier
// CHECK: memref.subview %{{.*}}[%[[ROW]], 0]
// CHECK: linalg.copy
// CHECK: gpu.barrier
// CHECK-NEXT: }
// CHECK-NEXT: gpu.return
func.func @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %u = arith.ceildivsi %t, %c2 : index
  %a = memref.alloc(%t) : memref<?x4xf32>
  %s = memref.alloc(%t) : memref<?x4xf32>
  scf.forall (%i) in (%t) {
    %temp = memref.alloc() : memref<128xf32>
    linalg.fill ins(%zero : f32) outs(%temp : memref<128xf32>)
    %row = memref.subview %x[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    %arow = memref.subview %a[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    linalg.copy ins(%row : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%arow : memref<1x4xf32, strided<[4, 1], offset: ?>>)
    memref.dealloc %temp : memref<128xf32>
  } {mapping = [#gpu.block<x>], moe.block_threads = 64 : i64, moe.kernel = "scale"}
  scf.forall (%i) in (%u) {
    %temp = memref.alloc() : memref<256xf32>
    linalg.fill ins(%zero : f32) outs(%temp : memref<256xf32>)
    %row = memref.subview %x[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    %srow = memref.subview %s[%i, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1], offset: ?>>
    linalg.copy ins(%row : memref<1x4xf32, strided<[4, 1], offset: ?>>) outs(%srow : memref<1x4xf32, strided<[4, 1], offset: ?>>)
    memref.dealloc %temp : memref<256xf32>
  } {mapping = [#gpu.block<x>], moe.block_threads = 64 : i64, moe.kernel = "shift"}
  memref.dealloc %s : memref<?x4xf32>
  return %a : memref<?x4xf32>
}
