// RUN: moe-opt %s --split-input-file --moe-distribute-threads --canonicalize --cse | FileCheck %s

// moe.async_copy staging copies: each of the 128 threads copies 16-byte
// runs (8 bf16, 4 f32) t, t + 128, ... of the [rows, columns] temporary,
// row-major, with one vector.load at the run's first element (the body's
// index arithmetic and its other loads, such as the permutation, once per
// run) and one marked vector.store.

#id = affine_map<(i, j) -> (i, j)>

// Gathered rows (the gate_up form): 16 x 64 bf16, 128 runs of 8; the
// stores keep the mark's value (copies that may follow before a read).
// CHECK-LABEL: func.func @gathered_rows(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x256xbf16>, %[[PERM:[^:]*]]: memref<?xi32>
// CHECK: %[[STAGE:.*]] = memref.alloc() : memref<16x64xbf16>
// CHECK: scf.for %[[K0:.*]] = %c0 to %c256 step %c64 {
// CHECK: scf.forall (%[[TID:.*]]) in (128) {
// CHECK-NEXT: scf.for %[[PIECE:.*]] = %[[TID]] to %c128 step %c128 {
// CHECK-NEXT: %[[ROW:.*]] = arith.divui %[[PIECE]], %c8 : index
// CHECK-NEXT: %[[RUN_COL:.*]] = arith.remui %[[PIECE]], %c8 : index
// CHECK-NEXT: %[[COL:.*]] = arith.muli %[[RUN_COL]], %c8 : index
// CHECK-NEXT: %[[COUNT_1:.*]] = arith.subi
// CHECK-NEXT: %[[LAST:.*]] = arith.minsi %[[ROW]], %[[COUNT_1]] : index
// CHECK-NEXT: %[[AT:.*]] = arith.addi %[[K0]], %[[COL]] : index
// CHECK-NEXT: %[[SLOT:.*]] = memref.load %[[PERM]][%[[LAST]]] : memref<?xi32>
// CHECK-NEXT: %[[TOKEN:.*]] = arith.index_cast %[[SLOT]] : i32 to index
// CHECK-NEXT: %[[RUN8:.*]] = vector.load %[[X]][%[[TOKEN]], %[[AT]]] : memref<?x256xbf16>, vector<8xbf16>
// CHECK-NEXT: vector.store %[[RUN8]], %[[STAGE]][%[[ROW]], %[[COL]]] {moe.async_copy = 1 : i64} : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NEXT: }
// CHECK-NEXT: } {mapping = [#gpu.thread<x>]}
// CHECK-NOT: linalg.generic
func.func @gathered_rows(%x: memref<?x256xbf16>, %perm: memref<?xi32>, %count: index, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "gate_up", params = ["hidden_states", "workspace0", "workspace1", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  scf.forall (%b) in (1) {
    %stage = memref.alloc() : memref<16x64xbf16>
    scf.for %k0 = %c0 to %c256 step %c64 {
      linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%stage : memref<16x64xbf16>) attrs = {moe.async_copy = 1 : i64} {
      ^bb0(%out: bf16):
        %i = linalg.index 0 : index
        %j = linalg.index 1 : index
        %last = arith.subi %count, %c1 : index
        %row = arith.minsi %i, %last : index
        %at = arith.addi %k0, %j : index
        %slot = memref.load %perm[%row] : memref<?xi32>
        %token = arith.index_cast %slot : i32 to index
        %v = memref.load %x[%token, %at] : memref<?x256xbf16>
        linalg.yield %v : bf16
      }
    }
    memref.dealloc %stage : memref<16x64xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// f32 rows read in place (the column is the index itself): 32 x 8 f32, 64
// runs of 4; the row is the same along a run.
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: func.func @f32_rows(
// CHECK-SAME: %[[X:[^:]*]]: memref<32x8xf32>
// CHECK: scf.forall (%[[TID:.*]]) in (128) {
// CHECK-NEXT: scf.for %[[PIECE:.*]] = %[[TID]] to %c64 step %c128 {
// CHECK-NEXT: %[[ROW:.*]] = arith.divui %[[PIECE]], %c2 : index
// CHECK-NEXT: %[[RUN_COL:.*]] = arith.remui %[[PIECE]], %c2 : index
// CHECK-NEXT: %[[COL:.*]] = arith.muli %[[RUN_COL]], %c4 : index
// CHECK-NEXT: %[[RUN4:.*]] = vector.load %[[X]][%[[ROW]], %[[COL]]] : memref<32x8xf32>, vector<4xf32>
// CHECK-NEXT: vector.store %[[RUN4]], %{{.*}}[%[[ROW]], %[[COL]]] {moe.async_copy = 0 : i64} : memref<32x8xf32>, vector<4xf32>
func.func @f32_rows(%x: memref<32x8xf32>, %out: memref<32x8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "copy", params = ["workspace0", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  scf.forall (%b) in (1) {
    %stage = memref.alloc() : memref<32x8xf32>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%stage : memref<32x8xf32>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: f32):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %v = memref.load %x[%i, %j] : memref<32x8xf32>
      linalg.yield %v : f32
    }
    linalg.copy ins(%stage : memref<32x8xf32>) outs(%out : memref<32x8xf32>)
    memref.dealloc %stage : memref<32x8xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// What is not a row of contiguous runs is dealt out element by element as
// any op, and loses the mark: a strided column (2j), a row that varies
// along the columns (i + j), a row of 12 bf16 (not whole 16-byte runs), a
// column read from a buffer with strided rows, a scalar (rank-0) load.
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: func.func @not_runs(
// CHECK-NOT: vector.
// CHECK-NOT: moe.async_copy
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: vector.
// CHECK-NOT: moe.async_copy
// CHECK: return
func.func @not_runs(%x: memref<64x64xbf16>, %y: memref<64x64xbf16, strided<[128, 2]>>, %z: memref<bf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "copy", params = ["workspace0", "workspace1", "workspace2", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c2 = arith.constant 2 : index
  scf.forall (%b) in (1) {
    %a = memref.alloc() : memref<16x16xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%a : memref<16x16xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %j2 = arith.muli %j, %c2 : index
      %v = memref.load %x[%i, %j2] : memref<64x64xbf16>
      linalg.yield %v : bf16
    }
    %c = memref.alloc() : memref<16x16xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%c : memref<16x16xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %r = arith.addi %i, %j : index
      %v = memref.load %x[%r, %j] : memref<64x64xbf16>
      linalg.yield %v : bf16
    }
    %d = memref.alloc() : memref<16x12xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%d : memref<16x12xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %v = memref.load %x[%i, %j] : memref<64x64xbf16>
      linalg.yield %v : bf16
    }
    %e = memref.alloc() : memref<16x16xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : memref<16x16xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %v = memref.load %y[%i, %j] : memref<64x64xbf16, strided<[128, 2]>>
      linalg.yield %v : bf16
    }
    %f = memref.alloc() : memref<16x16xbf16>
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%f : memref<16x16xbf16>) attrs = {moe.async_copy = 0 : i64} {
    ^bb0(%o: bf16):
      %v = memref.load %z[] : memref<bf16>
      linalg.yield %v : bf16
    }
    memref.dealloc %a : memref<16x16xbf16>
    memref.dealloc %f : memref<16x16xbf16>
    memref.dealloc %c : memref<16x16xbf16>
    memref.dealloc %d : memref<16x12xbf16>
    memref.dealloc %e : memref<16x16xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Runs that cannot be shown to start 16-byte aligned (x = k0 + 4, or a
// source of dynamic row stride) are still copied 16 bytes at a time, but
// without the mark: they may not become cp.async.
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: func.func @unaligned(
// CHECK-NOT: moe.async_copy
// CHECK: vector.load %{{.*}} : memref<64x256xbf16>, vector<8xbf16>
// CHECK-NEXT: vector.store %{{.*}}[%{{.*}}, %{{.*}}] : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NOT: moe.async_copy
// CHECK: vector.load %{{.*}} : memref<64x?xbf16, strided<[?, 1]>>, vector<8xbf16>
// CHECK-NEXT: vector.store %{{.*}}[%{{.*}}, %{{.*}}] : memref<16x64xbf16>, vector<8xbf16>
// CHECK-NOT: moe.async_copy
// CHECK: return
func.func @unaligned(%x: memref<64x256xbf16>, %y: memref<64x?xbf16, strided<[?, 1]>>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "copy", params = ["workspace0", "workspace1", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %c192 = arith.constant 192 : index
  scf.forall (%b) in (1) {
    %stage = memref.alloc() : memref<16x64xbf16>
    scf.for %k0 = %c0 to %c192 step %c64 {
      linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%stage : memref<16x64xbf16>) attrs = {moe.async_copy = 0 : i64} {
      ^bb0(%o: bf16):
        %i = linalg.index 0 : index
        %j = linalg.index 1 : index
        %k4 = arith.addi %k0, %c4 : index
        %at = arith.addi %k4, %j : index
        %v = memref.load %x[%i, %at] : memref<64x256xbf16>
        linalg.yield %v : bf16
      }
      linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%stage : memref<16x64xbf16>) attrs = {moe.async_copy = 0 : i64} {
      ^bb0(%o: bf16):
        %i = linalg.index 0 : index
        %j = linalg.index 1 : index
        %at = arith.addi %k0, %j : index
        %v = memref.load %y[%i, %at] : memref<64x?xbf16, strided<[?, 1]>>
        linalg.yield %v : bf16
      }
    }
    memref.dealloc %stage : memref<16x64xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}
