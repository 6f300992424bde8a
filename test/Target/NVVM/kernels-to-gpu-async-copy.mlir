// RUN: moe-opt %s --split-input-file --pass-pipeline="builtin.module(moe-distribute-threads,moe-kernels-to-gpu,canonicalize,cse)" | FileCheck %s

// A staging copy into a block temporary (shared memory) on the GPU: each
// thread's 16-byte runs become cp.async (nvgpu.device_async_copy, L1
// bypassed) from the global rows into the workgroup view, then the thread
// commits them as one group and waits until at most the mark's number of
// later groups (2: a three-stage pipeline) are in flight, and the barrier
// after the forall makes every thread's completed copies visible. Before
// the kernel returns, every thread waits for all its copies.

#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: gpu.func @stage_rows(
// CHECK-SAME: %[[X:[^:]*]]: memref<64x256xbf16>
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: %[[VIEW:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16x64xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: scf.for %[[PIECE:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: %[[ROW:.*]] = arith.divui %[[PIECE]]
// CHECK: %[[COL:.*]] = arith.muli
// CHECK: %[[AT:.*]] = arith.addi %[[K0]], %[[COL]] : index
// CHECK-NEXT: nvgpu.device_async_copy %[[X]][%[[ROW]], %[[AT]]], %[[VIEW]][%[[ROW]], %[[COL]]], 8 {bypassL1} : memref<64x256xbf16> to memref<16x64xbf16, #gpu.address_space<workgroup>>
// CHECK-NEXT: }
// CHECK-NEXT: %[[GROUP:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[GROUP]] {numGroups = 2 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: vector.load
// CHECK-NOT: vector.store
// CHECK: %[[LAST:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[LAST]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.return
func.func @stage_rows(%x: memref<64x256xbf16>, %out: memref<16x64xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "stage", params = ["hidden_states", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  scf.forall (%b) in (1) {
    %stage = memref.alloc() : memref<16x64xbf16>
    scf.for %k0 = %c0 to %c256 step %c64 {
      linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%stage : memref<16x64xbf16>) attrs = {moe.async_copy = 2 : i64} {
      ^bb0(%o: bf16):
        %i = linalg.index 0 : index
        %j = linalg.index 1 : index
        %at = arith.addi %k0, %j : index
        %v = memref.load %x[%i, %at] : memref<64x256xbf16>
        linalg.yield %v : bf16
      }
      linalg.copy ins(%stage : memref<16x64xbf16>) outs(%out : memref<16x64xbf16>)
    }
    memref.dealloc %stage : memref<16x64xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Into global memory (not a block temporary) the runs stay 16-byte vector
// loads and stores: cp.async writes only shared memory.
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: gpu.func @to_global(
// CHECK-NOT: nvgpu
// CHECK: %[[PIECE:.*]] = vector.load %{{.*}} : memref<64x256xbf16>, vector<8xbf16>
// CHECK-NEXT: vector.store %[[PIECE]], %{{.*}} : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NOT: nvgpu
// CHECK: gpu.return
func.func @to_global(%x: memref<64x256xbf16>, %out: memref<16x64xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "copy", params = ["hidden_states", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  scf.forall (%b) in (1) {
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%out : memref<16x64xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %v = memref.load %x[%i, %j] : memref<64x256xbf16>
      linalg.yield %v : bf16
    }
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// From a block temporary (shared memory) into another: cp.async reads only
// global memory, so the runs stay 16-byte vector copies.
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: gpu.func @shared_to_shared(
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: vector.load %{{.*}} : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NEXT: vector.store %{{.*}} : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: gpu.return
func.func @shared_to_shared(%x: memref<16x64xbf16>, %out: memref<16x64xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "stage", params = ["hidden_states", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  scf.forall (%b) in (1) {
    %first = memref.alloc() : memref<16x64xbf16>
    linalg.copy ins(%x : memref<16x64xbf16>) outs(%first : memref<16x64xbf16>)
    %second = memref.alloc() : memref<16x64xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%second : memref<16x64xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %v = memref.load %first[%i, %j] : memref<16x64xbf16>
      linalg.yield %v : bf16
    }
    linalg.copy ins(%second : memref<16x64xbf16>) outs(%out : memref<16x64xbf16>)
    memref.dealloc %first : memref<16x64xbf16>
    memref.dealloc %second : memref<16x64xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}
