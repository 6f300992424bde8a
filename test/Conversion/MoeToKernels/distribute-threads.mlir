// RUN: moe-opt %s --split-input-file --moe-distribute-threads --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-distribute-threads="threads=32 shared-memory=256" --canonicalize --cse | FileCheck %s --check-prefix=SMALL

// A kernel whose block temporary is bounded by its tile (16 rows of 8 f32,
// 512 bytes): its structured ops are dealt out to the block's threads,
// the parallel iterations flattened, the last loop fastest; the reduction
// stays whole in each slice, with its accumulator in a register.

// CHECK-LABEL: func.func @tile_kernel(
// CHECK-SAME: moe.kernel_abi = #moe.kernel_abi<kernel = "route", {{.*}} grid = (d0) -> (d0 ceildiv 16, 1, 1), block = [128, 1, 1]
// CHECK: scf.forall (%[[B:.*]]) in (%{{.*}}) {
// CHECK: %[[ROWS:.*]] = arith.minsi
// CHECK: %[[TMP:.*]] = memref.alloc(%[[ROWS]]) : memref<?x8xf32>
// CHECK: scf.forall (%[[T:.*]]) in (128) {
// CHECK: %[[N:.*]] = arith.muli %[[ROWS]], %c8 : index
// CHECK: scf.for %[[I:.*]] = %[[T]] to %[[N]] step %c128 {
// CHECK: %[[COL:.*]] = arith.remui %[[I]], %c8
// CHECK: %[[ROW:.*]] = arith.divui %[[I]], %c8
// CHECK: %[[X:.*]] = memref.subview %{{.*}}[%[[ROW]], 0] [1, 32] [1, 1]
// CHECK: %[[W:.*]] = memref.subview %{{.*}}[%[[COL]], 0] [1, 32] [1, 1]
// CHECK: %[[O:.*]] = memref.subview %[[TMP]][%[[ROW]], %[[COL]]] [1, 1] [1, 1]
// The slice's reduction is a loop that carries the output element as a
// value (a register), loaded before and stored after.
// CHECK: %[[INIT:.*]] = memref.load %[[O]][%c0, %c0] : memref<1x1xf32, {{.*}}>
// CHECK: %[[SUM:.*]] = scf.for %[[K:.*]] = %c0 to %c32 step %c1 iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK: %[[A:.*]] = memref.load %[[X]][%c0, %[[K]]]
// CHECK: %[[BW:.*]] = memref.load %[[W]][%c0, %[[K]]]
// CHECK: %[[M:.*]] = arith.mulf %[[A]], %[[BW]] : f32
// CHECK: %[[S:.*]] = arith.addf %[[ACC]], %[[M]] : f32
// CHECK: scf.yield %[[S]] : f32
// CHECK: }
// CHECK: memref.store %[[SUM]], %[[O]][%c0, %c0]
// CHECK: } {mapping = [#gpu.thread<x>]}
// The copy out: its own cyclic forall.
// CHECK: scf.forall (%{{.*}}) in (128) {
// CHECK: linalg.copy ins(%{{.*}} : memref<1x1xf32, {{.*}}>) outs(%{{.*}} : memref<1x1xf32, {{.*}}>)
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: memref.dealloc %[[TMP]]
// CHECK: } {mapping = [#gpu.block<x>]}

// With a budget of 256 bytes, the 512-byte temporary does not fit: the
// kernel keeps one thread and its form.
// SMALL-LABEL: func.func @tile_kernel(
// SMALL-SAME: block = [1, 1, 1]
// SMALL-NOT: #gpu.thread
// SMALL: return

#mm_x = affine_map<(r, c, k) -> (r, k)>
#mm_w = affine_map<(r, c, k) -> (c, k)>
#mm_o = affine_map<(r, c, k) -> (r, c)>
func.func @tile_kernel(%x: memref<?x32xf32>, %w: memref<8x32xf32>, %out: memref<?x8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["hidden_states", "weight0", "output", "T"], grid = (d0) -> (d0 ceildiv 16, 1, 1)>} {
  %c16 = arith.constant 16 : index
  %blocks = arith.ceildivsi %t, %c16 : index
  scf.forall (%b) in (%blocks) {
    %first = arith.muli %b, %c16 : index
    %rest = arith.subi %t, %first : index
    %rows = arith.minsi %rest, %c16 : index
    %xs = memref.subview %x[%first, 0] [%rows, 32] [1, 1] : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
    %tmp = memref.alloc(%rows) : memref<?x8xf32>
    linalg.generic {indexing_maps = [#mm_x, #mm_w, #mm_o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%xs, %w : memref<?x32xf32, strided<[32, 1], offset: ?>>, memref<8x32xf32>) outs(%tmp : memref<?x8xf32>) {
    ^bb0(%a: f32, %bw: f32, %acc: f32):
      %m = arith.mulf %a, %bw : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    }
    %os = memref.subview %out[%first, 0] [%rows, 8] [1, 1] : memref<?x8xf32> to memref<?x8xf32, strided<[8, 1], offset: ?>>
    linalg.copy ins(%tmp : memref<?x8xf32>) outs(%os : memref<?x8xf32, strided<[8, 1], offset: ?>>)
    memref.dealloc %tmp : memref<?x8xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Writes that are not structured ops run on thread 0; loops with
// structured ops are entered (every thread runs them alike) and the
// structured ops in them are dealt out; an op that reads its output at other elements than it writes (an
// in-place transpose) runs on thread 0 whole. Loads stay on every thread.

// CHECK-LABEL: func.func @mixed_kernel(
// CHECK-SAME: block = [128, 1, 1]
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK: %[[N:.*]] = memref.load %{{.*}}[%c0] : memref<4xi32>
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: memref.store %{{.*}}, %{{.*}}[%c1] : memref<4xi32>
// CHECK-NEXT: } {mapping = [#gpu.thread<x>]}
// A loop without structured ops runs whole on thread 0.
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: scf.for
// CHECK-NEXT: memref.load
// CHECK-NEXT: arith.index_cast
// CHECK-NEXT: memref.store
// CHECK-NEXT: }
// CHECK-NEXT: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1 {
// CHECK: scf.forall (%[[T:.*]]) in (128) {
// CHECK: scf.for %{{.*}} = %[[T]] to %c64 step %c128 {
// CHECK: linalg.fill
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: }
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[SQ:[^ ]*]] : memref<8x8xf32>) outs(%[[SQ]] : memref<8x8xf32>)
// CHECK: } {mapping = [#gpu.thread<x>]}
// Another view of the output's buffer as input (rows 0-3 into rows 4-7),
// and a load in the body from the output's buffer: thread 0 as well.
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: linalg.copy ins(%{{.*}} : memref<4x8xf32, strided<[8, 1]>>) outs(%{{.*}} : memref<4x8xf32, strided<[8, 1], offset: 32>>)
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: linalg.generic
// CHECK: memref.load
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: } {mapping = [#gpu.block<x>]}

#id = affine_map<(i, j) -> (i, j)>
#tr = affine_map<(i, j) -> (j, i)>
func.func @mixed_kernel(%counts: memref<4xi32>, %v: memref<8x8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "dispatch", params = ["workspace0", "workspace1", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    %n = memref.load %counts[%c0] : memref<4xi32>
    %n1 = arith.addi %n, %n : i32
    memref.store %n1, %counts[%c1] : memref<4xi32>
    %trips = arith.index_cast %n : i32 to index
    scf.for %i = %c0 to %trips step %c1 {
      %old = memref.load %counts[%i] : memref<4xi32>
      %at = arith.index_cast %old : i32 to index
      memref.store %n1, %counts[%at] : memref<4xi32>
    }
    scf.for %i = %c0 to %trips step %c1 {
      linalg.fill ins(%one : f32) outs(%v : memref<8x8xf32>)
    }
    linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%v : memref<8x8xf32>) outs(%v : memref<8x8xf32>) {
    ^bb0(%a: f32, %o: f32):
      linalg.yield %a : f32
    }
    %top = memref.subview %v[0, 0] [4, 8] [1, 1] : memref<8x8xf32> to memref<4x8xf32, strided<[8, 1]>>
    %bottom = memref.subview %v[4, 0] [4, 8] [1, 1] : memref<8x8xf32> to memref<4x8xf32, strided<[8, 1], offset: 32>>
    linalg.copy ins(%top : memref<4x8xf32, strided<[8, 1]>>) outs(%bottom : memref<4x8xf32, strided<[8, 1], offset: 32>>)
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%v : memref<8x8xf32>) {
    ^bb0(%o: f32):
      %j = linalg.index 1 : index
      %first = memref.load %v[%j, %c0] : memref<8x8xf32>
      linalg.yield %first : f32
    }
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A temporary without a constant bound (its size is the token count):
// the kernel keeps one thread.

// CHECK-LABEL: func.func @unbounded_kernel(
// CHECK-SAME: block = [1, 1, 1]
// CHECK-NOT: #gpu.thread
// CHECK: return
func.func @unbounded_kernel(%out: memref<?xi32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "dispatch", params = ["output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : i32
  scf.forall (%b) in (1) {
    %tmp = memref.alloc(%t) : memref<?xi32>
    linalg.fill ins(%c0 : i32) outs(%tmp : memref<?xi32>)
    linalg.copy ins(%tmp : memref<?xi32>) outs(%out : memref<?xi32>)
    memref.dealloc %tmp : memref<?xi32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Ops that several threads would get wrong run on thread 0: an output that
// does not depend on a parallel loop (its elements written once per j), and
// a reduction whose input is its output's buffer (not given a register
// accumulator either). Index temporaries are 8 bytes each.

// CHECK-LABEL: func.func @edge_kernel(
// CHECK-SAME: block = [128, 1, 1]
// CHECK-SAME: shared_memory = 128>
// CHECK: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: memref.alloc() : memref<16xindex>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%{{.*}}) in (128) {
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : memref<1xindex, {{.*}}>, memref<1x4xindex, {{.*}}>) outs(%{{.*}} : memref<1xindex, {{.*}}>)
// CHECK: } {mapping = [#gpu.thread<x>]}

#ij = affine_map<(i, j) -> (i, j)>
#i = affine_map<(i, j) -> (i)>
func.func @edge_kernel(%x: memref<16x4xindex>, %o: memref<16xindex>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["hidden_states", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  scf.forall (%b) in (1) {
    %tmp = memref.alloc() : memref<16xindex>
    linalg.generic {indexing_maps = [#ij, #i], iterator_types = ["parallel", "parallel"]} ins(%x : memref<16x4xindex>) outs(%tmp : memref<16xindex>) {
    ^bb0(%a: index, %acc: index):
      linalg.yield %a : index
    }
    linalg.generic {indexing_maps = [#i, #ij, #i], iterator_types = ["parallel", "reduction"]} ins(%tmp, %x : memref<16xindex>, memref<16x4xindex>) outs(%tmp : memref<16xindex>) {
    ^bb0(%a: index, %xb: index, %acc: index):
      %s = arith.addi %a, %xb : index
      %s2 = arith.addi %s, %acc : index
      linalg.yield %s2 : index
    }
    linalg.copy ins(%tmp : memref<16xindex>) outs(%o : memref<16xindex>)
    memref.dealloc %tmp : memref<16xindex>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A stack buffer would be private to each thread: the kernel keeps one.

// CHECK-LABEL: func.func @stack_kernel(
// CHECK-SAME: block = [1, 1, 1]
// CHECK-NOT: #gpu.thread
func.func @stack_kernel(%out: memref<8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    %tmp = memref.alloca() : memref<8xf32>
    linalg.fill ins(%one : f32) outs(%tmp : memref<8xf32>)
    linalg.copy ins(%tmp : memref<8xf32>) outs(%out : memref<8xf32>)
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Functions without moe.kernel_abi (the layer function) are left alone.

// CHECK-LABEL: func.func @host(
// CHECK-NOT: #gpu.thread
// CHECK: return
func.func @host(%v: memref<8xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%v : memref<8xf32>)
  return
}

// -----

// Kernels side by side (moe-fuse-launches): the block's branch is entered,
// though it has no structured op (its writes go to thread 0 one by one);
// each branch keeps its temporary at its top, and the two overlap: 64
// bytes, not 96.

// CHECK-LABEL: func.func @side_by_side_kernel(
// CHECK-SAME: block = [128, 1, 1]
// CHECK-SAME: shared_memory = 64>
// CHECK: scf.if
// CHECK-NEXT: memref.alloc() : memref<8xf32>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: memref.store
// CHECK: } else {
// CHECK-NEXT: memref.alloc() : memref<16xf32>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: memref.store
func.func @side_by_side_kernel(%o: memref<16xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "a_b", params = ["output", "T"], grid = (d0) -> (2, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (2) {
    %first = arith.cmpi ult, %b, %c1 : index
    scf.if %first {
      %tmp = memref.alloc() : memref<8xf32>
      memref.store %one, %tmp[%c0] : memref<8xf32>
      %v = memref.load %tmp[%c0] : memref<8xf32>
      memref.store %v, %o[%c0] : memref<16xf32>
      memref.dealloc %tmp : memref<8xf32>
    } else {
      %tmp = memref.alloc() : memref<16xf32>
      memref.store %one, %tmp[%c1] : memref<16xf32>
      %v = memref.load %tmp[%c1] : memref<16xf32>
      memref.store %v, %o[%c1] : memref<16xf32>
      memref.dealloc %tmp : memref<16xf32>
    }
  } {mapping = [#gpu.block<x>]}
  return
}
