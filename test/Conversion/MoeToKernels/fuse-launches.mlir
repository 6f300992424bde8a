// RUN: moe-opt %s --pass-pipeline="builtin.module(func.func(moe-fuse-launches))" -split-input-file | FileCheck %s

// A one-block kernel after a kernel over a 2-d grid runs in that kernel's
// last block: the allocation and index math between them move before it,
// the layer zeroes a counter, each block takes a ticket on one thread, and
// the block whose ticket is grid - 1 runs the second body with its block
// id 0; the second kernel's temporary is allocated outside the branch.

// CHECK-LABEL: func.func @fuse(
// CHECK-SAME: %[[X:.*]]: memref<?xf32>
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[GRID:.*]] = arith.ceildivsi %[[T]], %c4
// CHECK: %[[SUM:.*]] = memref.alloc() : memref<1xf32>
// CHECK: %[[COUNTER:.*]] = memref.alloc() : memref<1xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<1xi32>)
// CHECK-NEXT: scf.forall (%[[B:.*]], %[[C:.*]]) in (%[[GRID]], 3) {
// CHECK: memref.store %{{.*}}, %[[X]][%{{.*}}]
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[TICKET:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: %[[TAKEN:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNTER]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK-NEXT: memref.store %[[TAKEN]], %[[TICKET]][%{{.*}}] : memref<1xi32>
// CHECK-NEXT: } {mapping = [#gpu.thread<x>]}
// CHECK-NEXT: %[[MINE:.*]] = memref.load %[[TICKET]]
// CHECK: %[[BLOCKS:.*]] = arith.muli %[[GRID]], %c3{{.*}} : index
// CHECK: %[[LAST:.*]] = arith.subi %[[BLOCKS]], %c1{{.*}} : index
// CHECK-NEXT: %[[LAST32:.*]] = arith.index_cast %[[LAST]] : index to i32
// CHECK-NEXT: %[[IS_LAST:.*]] = arith.cmpi eq, %[[MINE]], %[[LAST32]] : i32
// CHECK-NEXT: %[[TEMP:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: scf.if %[[IS_LAST]] {
// CHECK-NEXT: %[[V:.*]] = memref.load %[[X]][%[[ZERO]]] : memref<?xf32>
// CHECK-NEXT: memref.store %[[V]], %[[TEMP]][%[[ZERO]]]
// CHECK-NEXT: memref.store %[[V]], %[[SUM]][%[[ZERO]]]
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[TEMP]]
// CHECK-NEXT: memref.dealloc %[[TICKET]]
// CHECK-NEXT: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "scale_sum"}
// CHECK-NOT: scf.forall
// CHECK: memref.dealloc %[[COUNTER]]
// CHECK-NEXT: return %[[SUM]]
func.func @fuse(%x: memref<?xf32>) -> memref<1xf32> {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %two = arith.constant 2.0 : f32
  %t = memref.dim %x, %c0 : memref<?xf32>
  %grid = arith.ceildivsi %t, %c4 : index
  scf.forall (%b, %c) in (%grid, 3) {
    %i = arith.muli %b, %c4 : index
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %two : f32
    memref.store %w, %x[%i] : memref<?xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "scale"}
  %sum = memref.alloc() : memref<1xf32>
  scf.forall (%b) in (1) {
    %temp = memref.alloc() : memref<4xf32>
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %temp[%b] : memref<4xf32>
    memref.store %v, %sum[%b] : memref<1xf32>
    memref.dealloc %temp : memref<4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "sum"}
  return %sum : memref<1xf32>
}

// -----

// A kernel over more than one block after it, or work between the two that
// is not an allocation or index math, keeps the launches apart.

// CHECK-LABEL: func.func @apart(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "first"
// CHECK: linalg.fill
// CHECK: moe.kernel = "one"
// CHECK: moe.kernel = "many"
// CHECK-NOT: atomic_rmw
func.func @apart(%x: memref<?xf32>) -> memref<2xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?xf32>
  scf.forall (%b) in (%t) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %x[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "first"}
  %out = memref.alloc() : memref<2xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<2xf32>)
  scf.forall (%b) in (1) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %out[%b] : memref<2xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "one"}
  scf.forall (%b) in (2) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %out[%b] : memref<2xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "many"}
  return %out : memref<2xf32>
}

// -----

// The counter is zeroed before the layer's first kernel, also when the
// merged pair comes later (moe-outline-kernels accepts a zero fill only
// there).

// CHECK-LABEL: func.func @later_pair(
// CHECK: %[[COUNTER:.*]] = memref.alloc() : memref<1xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<1xi32>)
// CHECK-NEXT: scf.forall
// CHECK: moe.kernel = "pre"
// CHECK: memref.atomic_rmw addi %{{.*}}, %[[COUNTER]]
// CHECK: moe.kernel = "first_one"
func.func @later_pair(%x: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?xf32>
  scf.forall (%b) in (%t) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %x[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "pre"}
  scf.forall (%b) in (%t) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %x[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "first"}
  scf.forall (%b) in (1) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %x[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "one"}
  return %x : memref<?xf32>
}

// -----

// A one-block kernel whose temporary's size it computes itself would put
// that temporary inside the branch (not a block temporary: the merged
// kernel would lose its threads): the launches stay apart.

// CHECK-LABEL: func.func @inner_size(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "first"
// CHECK: moe.kernel = "one"
func.func @inner_size(%x: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?xf32>
  scf.forall (%b) in (%t) {
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %x[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "first"}
  scf.forall (%b) in (1) {
    %n = arith.addi %t, %b : index
    %temp = memref.alloc(%n) : memref<?xf32>
    %v = memref.load %x[%b] : memref<?xf32>
    memref.store %v, %temp[%b] : memref<?xf32>
    memref.dealloc %temp : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "one"}
  return %x : memref<?xf32>
}

// -----

// A column-local kernel over (x, 2) after a kernel over (x, 2) runs in the
// last block of each column: one counter per column, the ticket taken from
// the block's own column, the last ticket the column's block count minus
// one, and the second kernel's blocks of that column run in a loop over
// their x with the column's id.

// CHECK-LABEL: func.func @per_column(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x8xf32>, %[[Y:[^:]*]]: memref<?x8xf32>
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[ROWS:.*]] = arith.ceildivsi %[[T]], %c4
// CHECK: %[[TOKENS:.*]] = arith.ceildivsi %[[T]], %c2
// CHECK: %[[COUNTER:.*]] = memref.alloc() : memref<2xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<2xi32>)
// CHECK-NEXT: scf.forall (%[[B:.*]], %[[C:.*]]) in (%[[ROWS]], 2) {
// CHECK: memref.store %{{.*}}, %[[X]]
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[TICKET:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: %[[TAKEN:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNTER]][%[[C]]] : (i32, memref<2xi32>) -> i32
// CHECK: %[[MINE:.*]] = memref.load %[[TICKET]]
// CHECK: %[[LAST:.*]] = arith.subi %[[ROWS]], %c1{{.*}} : index
// CHECK-NEXT: %[[LAST32:.*]] = arith.index_cast %[[LAST]] : index to i32
// CHECK-NEXT: %[[IS_LAST:.*]] = arith.cmpi eq, %[[MINE]], %[[LAST32]] : i32
// CHECK-NEXT: scf.if %[[IS_LAST]] {
// CHECK: scf.for %[[J:.*]] = %[[ZERO]] to %[[TOKENS]] step %{{.*}} {
// CHECK-NEXT: %[[COL:.*]] = arith.muli %[[C]], %c4
// CHECK-NEXT: %[[V:.*]] = memref.load %[[X]][%[[J]], %[[COL]]]
// CHECK-NEXT: memref.store %[[V]], %[[Y]][%[[J]], %[[COL]]]
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[TICKET]]
// CHECK-NEXT: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down_combine"}
// CHECK-NOT: scf.forall
// CHECK: memref.dealloc %[[COUNTER]]
func.func @per_column(%x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  %rows = arith.ceildivsi %t, %c4 : index
  scf.forall (%b, %c) in (%rows, 2) {
    %col = arith.muli %c, %c4 : index
    %v = memref.load %x[%b, %col] : memref<?x8xf32>
    memref.store %v, %x[%b, %col] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down"}
  %tokens = arith.ceildivsi %t, %c2 : index
  scf.forall (%j, %c) in (%tokens, 2) {
    %col = arith.muli %c, %c4 : index
    %v = memref.load %x[%j, %col] : memref<?x8xf32>
    memref.store %v, %y[%j, %col] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}

// -----

// A column-local kernel that writes a buffer the first kernel reads (here
// through a view) stays a launch of its own: in the first kernel's blocks,
// column 0's combine would overwrite what column 1's blocks may still read.
// Bufferization gives two kernels one buffer this way when the first's use
// of it ends before the second writes it (Mixtral top-1 with I = H).

// CHECK-LABEL: func.func @overwrites_input(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "down"
// CHECK: moe.kernel = "combine"
func.func @overwrites_input(%x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %col = arith.muli %c, %c4 : index
    %v = memref.load %y[%b, %c0] : memref<?x8xf32>
    memref.store %v, %x[%b, %col] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down"}
  scf.forall (%j, %c) in (%t, 2) {
    %col = arith.muli %c, %c4 : index
    %v = memref.load %x[%j, %col] : memref<?x8xf32>
    %row = memref.subview %y[%j, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<8xf32, strided<[1], offset: ?>>
    memref.store %v, %row[%col] : memref<8xf32, strided<[1], offset: ?>>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}

// -----

// Over more blocks than one, only a column-local kernel with the same
// columns nests: not one with other columns, nor one that may read any
// column (gate_up then down).

// CHECK-LABEL: func.func @columns_apart(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "first"
// CHECK: moe.kernel = "other_columns"
// CHECK: moe.kernel = "any_column"
// CHECK-NOT: atomic_rmw
func.func @columns_apart(%x: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "first"}
  scf.forall (%b, %c) in (%t, 4) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "other_columns"}
  scf.forall (%b, %c) in (%t, 4) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "any_column"}
  return
}

// -----

// The column-local kernel's temporary moves out of the loop over its
// blocks and the branch: one block temporary (shared memory on the GPU),
// freed after the branch.

// CHECK-LABEL: func.func @per_column_temporary(
// CHECK: %[[TICKET:.*]] = memref.alloc() : memref<1xi32>
// CHECK: %[[TEMP:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: scf.if
// CHECK: scf.for
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
// CHECK: memref.store %{{.*}}, %[[TEMP]]
// CHECK: }
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[TEMP]]
// CHECK-NEXT: memref.dealloc %[[TICKET]]
// CHECK-NEXT: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down_combine"}
func.func @per_column_temporary(%x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down"}
  scf.forall (%j, %c) in (%t, 2) {
    %temp = memref.alloc() : memref<4xf32>
    %v = memref.load %x[%j, %c] : memref<?x8xf32>
    memref.store %v, %temp[%c0] : memref<4xf32>
    %w = memref.load %temp[%c0] : memref<4xf32>
    memref.store %w, %y[%j, %c] : memref<?x8xf32>
    memref.dealloc %temp : memref<4xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}

// -----

// A temporary nested in the second kernel's branch would stay inside the
// merged branch (not a block temporary): the launches stay apart.

// CHECK-LABEL: func.func @nested_temporary(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "down"
// CHECK: moe.kernel = "combine"
func.func @nested_temporary(%x: memref<?x8xf32>, %p: i1) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down"}
  scf.forall (%j, %c) in (%t, 2) {
    scf.if %p {
      %temp = memref.alloc() : memref<4xf32>
      %v = memref.load %x[%j, %c] : memref<?x8xf32>
      memref.store %v, %temp[%c0] : memref<4xf32>
      memref.dealloc %temp : memref<4xf32>
    }
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}

// -----

// A row-local kernel over (X) after a kernel over (X, 4) (the router, then
// the route) runs in the last block of each row: one counter per row (a
// dynamic count, made before the first kernel), the ticket taken from the
// block's own row, the last ticket the row's block count minus one, and
// the second kernel's block of that row with the row's id. Its temporary,
// sized from its row, moves before the branch with the size's index math.
// The merged kernel then takes the one-block kernel after it (the
// dispatch) behind a second ticket over all its blocks.

// CHECK-LABEL: func.func @per_row(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x4xf32>, %[[Y:[^:]*]]: memref<?xf32>
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[ROWS:.*]] = arith.ceildivsi %[[T]], %c2
// CHECK: %[[COUNTER:.*]] = memref.alloc(%[[ROWS]]) : memref<?xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<?xi32>)
// CHECK: %[[ALL:.*]] = memref.alloc() : memref<1xi32>
// CHECK: linalg.fill ins(%{{.*}} : i32) outs(%[[ALL]] : memref<1xi32>)
// CHECK-NEXT: scf.forall (%[[B:.*]], %[[C:.*]]) in (%[[ROWS]], 4) {
// CHECK: %[[TICKET:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: scf.forall (%{{.*}}) in (1) {
// CHECK-NEXT: memref.atomic_rmw addi %{{.*}}, %[[COUNTER]][%[[B]]] : (i32, memref<?xi32>) -> i32
// CHECK: %[[MINE:.*]] = memref.load %[[TICKET]]
// CHECK: %[[LAST:.*]] = arith.subi %c4{{.*}}, %c1{{.*}} : index
// CHECK-NEXT: %[[LAST32:.*]] = arith.index_cast %[[LAST]] : index to i32
// CHECK-NEXT: %[[IS_LAST:.*]] = arith.cmpi eq, %[[MINE]], %[[LAST32]] : i32
// CHECK: %[[FIRST:.*]] = arith.muli %[[B]], %c2
// CHECK: %[[COUNT:.*]] = arith.minsi
// CHECK: %[[TEMP:.*]] = memref.alloc(%[[COUNT]]) : memref<?xf32>
// CHECK-NEXT: scf.if %[[IS_LAST]] {
// CHECK-NOT: scf.for
// CHECK: memref.load %[[X]][%[[FIRST]], %{{.*}}]
// CHECK: memref.store %{{.*}}, %[[Y]][%[[FIRST]]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[TEMP]]
// CHECK-NEXT: memref.dealloc %[[TICKET]]
// CHECK: memref.atomic_rmw addi %{{.*}}, %[[ALL]]
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "router_route_dispatch"}
// CHECK-NOT: scf.forall
// CHECK: memref.dealloc %[[COUNTER]]
func.func @per_row(%x: memref<?x4xf32>, %y: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %rows = arith.ceildivsi %t, %c2 : index
  scf.forall (%b, %c) in (%rows, 4) {
    %i = arith.muli %b, %c2 : index
    %v = memref.load %x[%i, %c] : memref<?x4xf32>
    memref.store %v, %x[%i, %c] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "router"}
  scf.forall (%b) in (%rows) {
    %first = arith.muli %b, %c2 : index
    %left = arith.subi %t, %first : index
    %count = arith.minsi %left, %c2 : index
    %temp = memref.alloc(%count) : memref<?xf32>
    %v = memref.load %x[%first, %c1] : memref<?x4xf32>
    memref.store %v, %temp[%c0] : memref<?xf32>
    memref.store %v, %y[%first] : memref<?xf32>
    memref.dealloc %temp : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "route", moe.row_local}
  scf.forall (%b) in (1) {
    %v = memref.load %y[%b] : memref<?xf32>
    memref.store %v, %y[%b] : memref<?xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "dispatch"}
  return %y : memref<?xf32>
}

// -----

// Without moe.row_local, or over other rows than the first kernel's, a
// one-dimensional kernel keeps its launch.

// CHECK-LABEL: func.func @rows_apart(
// CHECK-NOT: atomic_rmw
// CHECK: moe.kernel = "router"
// CHECK: moe.kernel = "not_row_local"
// CHECK: moe.kernel = "other_rows"
// CHECK-NOT: atomic_rmw
func.func @rows_apart(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %rows = arith.ceildivsi %t, %c2 : index
  scf.forall (%b, %c) in (%rows, 4) {
    %v = memref.load %x[%b, %c] : memref<?x4xf32>
    memref.store %v, %x[%b, %c] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "router"}
  scf.forall (%b) in (%rows) {
    %v = memref.load %x[%b, %c0] : memref<?x4xf32>
    memref.store %v, %x[%b, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "not_row_local"}
  scf.forall (%b) in (%t) {
    %v = memref.load %x[%b, %c0] : memref<?x4xf32>
    memref.store %v, %x[%b, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "other_rows", moe.row_local}
  return %x : memref<?x4xf32>
}

// -----

// Two independent kernels over (t, 2) and (u, 2) with the same threads a
// block (the shared expert's beside the routed experts') run side by side:
// one kernel over (t + u, 2), whose blocks x < t run the first's block
// (x, c) and the others the second's (x - t, c), each with its temporary
// at the top of its branch. Both name a column tile of 4: kept.

// CHECK-LABEL: func.func @side_by_side(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x8xf32>, %[[Y:[^:]*]]: memref<?x8xf32>, %[[Z:[^:]*]]: memref<?x8xf32>
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[U:.*]] = arith.ceildivsi %[[T]], %c4
// CHECK: %[[BOTH:.*]] = arith.addi %[[T]], %[[U]] : index
// CHECK-NEXT: scf.forall (%[[B:.*]], %[[C:.*]]) in (%[[BOTH]], 2) {
// CHECK-NEXT: %[[FIRST:.*]] = arith.cmpi ult, %[[B]], %[[T]] : index
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: %[[TEMP:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: %[[V:.*]] = memref.load %[[Z]][%[[B]], %[[C]]]
// CHECK-NEXT: memref.store %[[V]], %[[TEMP]]
// CHECK-NEXT: memref.store %[[V]], %[[X]][%[[B]], %[[C]]]
// CHECK-NEXT: memref.dealloc %[[TEMP]]
// CHECK-NEXT: } else {
// CHECK-NEXT: %[[ROW:.*]] = arith.subi %[[B]], %[[T]] : index
// CHECK-NEXT: %[[TEMP2:.*]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT: %[[W:.*]] = memref.load %[[Z]][%[[ROW]], %[[C]]]
// CHECK-NEXT: memref.store %[[W]], %[[TEMP2]]
// CHECK-NEXT: memref.store %[[W]], %[[Y]][%[[ROW]], %[[C]]]
// CHECK-NEXT: memref.dealloc %[[TEMP2]]
// CHECK-NEXT: }
// CHECK-NEXT: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 64 : i64, moe.column_tile = 4 : i64, moe.kernel = "gate_up_shared_gate_up"}
// CHECK-NOT: scf.forall
func.func @side_by_side(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %z: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %temp = memref.alloc() : memref<4xf32>
    %v = memref.load %z[%b, %c] : memref<?x8xf32>
    memref.store %v, %temp[%c0] : memref<4xf32>
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
    memref.dealloc %temp : memref<4xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 64 : i64, moe.column_tile = 4 : i64, moe.kernel = "gate_up"}
  %u = arith.ceildivsi %t, %c4 : index
  scf.forall (%b, %c) in (%u, 2) {
    %temp = memref.alloc() : memref<8xf32>
    %v = memref.load %z[%b, %c] : memref<?x8xf32>
    memref.store %v, %temp[%c0] : memref<8xf32>
    memref.store %v, %y[%b, %c] : memref<?x8xf32>
    memref.dealloc %temp : memref<8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 64 : i64, moe.column_tile = 4 : i64, moe.kernel = "shared_gate_up"}
  return
}

// -----

// Side by side, kernels whose column tiles differ take column tile 0: the
// column-local kernel after them keeps its launch (column c's blocks of
// the two would cover different columns). With one tile (the second
// function), the combine runs in the merged kernel's blocks.

// CHECK-LABEL: func.func @side_by_side_tiles_differ(
// CHECK: moe.column_tile = 0 : i64, moe.kernel = "shared_down_down"}
// CHECK: moe.kernel = "combine"}
// CHECK-LABEL: func.func @side_by_side_then_combine(
// CHECK: memref.atomic_rmw addi
// CHECK: moe.column_tile = 4 : i64, moe.kernel = "shared_down_down_combine"}
// CHECK-NOT: scf.forall
func.func @side_by_side_tiles_differ(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %out: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %v = arith.constant 1.0 : f32
    memref.store %v, %y[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 2 : i64, moe.kernel = "shared_down"}
  scf.forall (%b, %c) in (%t, 2) {
    %v = arith.constant 2.0 : f32
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 4 : i64, moe.kernel = "down"}
  scf.forall (%j, %c) in (%t, 2) {
    %v = memref.load %x[%j, %c] : memref<?x8xf32>
    %w = memref.load %y[%j, %c] : memref<?x8xf32>
    %s = arith.addf %v, %w : f32
    memref.store %s, %out[%j, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}
func.func @side_by_side_then_combine(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %out: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    %v = arith.constant 1.0 : f32
    memref.store %v, %y[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 4 : i64, moe.kernel = "shared_down"}
  scf.forall (%b, %c) in (%t, 2) {
    %v = arith.constant 2.0 : f32
    memref.store %v, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 4 : i64, moe.kernel = "down"}
  scf.forall (%j, %c) in (%t, 2) {
    %v = memref.load %x[%j, %c] : memref<?x8xf32>
    %w = memref.load %y[%j, %c] : memref<?x8xf32>
    %s = arith.addf %v, %w : f32
    memref.store %s, %out[%j, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
  return
}

// -----

// Not side by side: a kernel that reads what the one before writes (down
// after gate_up), other threads a block, other columns, or a temporary
// that is not at the top of a body.

// CHECK-LABEL: func.func @not_side_by_side(
// CHECK: moe.kernel = "writes"}
// CHECK: moe.kernel = "reads"}
// CHECK: moe.kernel = "threads"}
// CHECK: moe.kernel = "columns"}
// CHECK: moe.kernel = "nested"}
func.func @not_side_by_side(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %z: memref<?x8xf32>, %w: memref<?x8xf32>, %p: i1) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  scf.forall (%b, %c) in (%t, 2) {
    memref.store %one, %x[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 64 : i64, moe.kernel = "writes"}
  scf.forall (%b, %c) in (%t, 2) {
    %v = memref.load %x[%b, %c] : memref<?x8xf32>
    memref.store %v, %y[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 64 : i64, moe.kernel = "reads"}
  scf.forall (%b, %c) in (%t, 2) {
    memref.store %one, %z[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 128 : i64, moe.kernel = "threads"}
  scf.forall (%b, %c) in (%t, 4) {
    memref.store %one, %w[%b, %c] : memref<?x8xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 128 : i64, moe.kernel = "columns"}
  scf.forall (%b, %c) in (%t, 4) {
    scf.for %i = %c0 to %t step %t {
      %temp = memref.alloc() : memref<4xf32>
      memref.store %one, %temp[%c0] : memref<4xf32>
      memref.dealloc %temp : memref<4xf32>
    }
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 128 : i64, moe.kernel = "nested"}
  return
}
