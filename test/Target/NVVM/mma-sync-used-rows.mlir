// RUN: moe-opt %s --moe-distribute-threads --canonicalize --cse | FileCheck %s --check-prefix=WARPS
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-nvvm | FileCheck %s --check-prefix=NVVM

// A block's rows rounded up to whole mma.sync tiles (moe-form-kernels'
// used rows: min(ceildiv(count, 16), 3) * 16 of a 48-row tile) are a
// dynamic row count of the contraction. moe-distribute-threads still deals
// its columns out to the warps (the count is a multiple of 16 with a
// constant bound). The mma.sync lowering runs a block with all 48 rows as
// it would static rows, and in a block with fewer skips each 16-row tile
// past the count: its C fragment is neither loaded nor stored and its A
// fragment and mma.sync are not run. Every lane of a warp takes the same
// branches. The accumulator's rows are padded (40 columns) as
// moe-form-kernels pads them, and each row's pair of C values is one
// 64-bit access.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// WARPS-LABEL: func.func @used_rows_kernel(
// WARPS: %[[TILES:.*]] = arith.minsi %{{.*}}, %c3 : index
// WARPS: %[[ROWS:.*]] = arith.muli %[[TILES]], %c16 : index
// WARPS: scf.forall (%[[WARP:.*]]) in (4) {
// WARPS: %[[COL:.*]] = arith.muli %[[WARP]], %c8 : index
// WARPS: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : memref<?x32xbf16, strided<[40, 1]>>, memref<8x32xbf16, strided<[32, 1], offset: ?>>) outs(%{{.*}} : memref<?x8xf32, strided<[40, 1], offset: ?>>) attrs = {moe.tensor_core}
// WARPS: } {mapping = [#gpu.warp<x>]}

// CHECK-LABEL: gpu.func @used_rows_kernel(
// CHECK: %[[TILES:.*]] = arith.minsi %{{.*}}, %c3 : index
// CHECK: %[[ROWS:.*]] = arith.muli %[[TILES]], %c16 : index
// CHECK: %[[LANE:.*]] = gpu.lane_id
// Tile i has rows where 16 i < rows.
// CHECK-DAG: %[[HAS0:.*]] = arith.cmpi ugt, %[[ROWS]], %c0 : index
// CHECK-DAG: %[[HAS1:.*]] = arith.cmpi ugt, %[[ROWS]], %c16 : index
// CHECK-DAG: %[[HAS2:.*]] = arith.cmpi ugt, %[[ROWS]], %c32 : index
// CHECK: %[[WHOLE:.*]] = arith.cmpi eq, %[[ROWS]], %c48 : index
// A whole block: the static form, no branch in the loop.
// CHECK: scf.if %[[WHOLE]] {
// CHECK-COUNT-6: vector.load {{.*}} vector<2xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args
// CHECK-NOT: scf.if
// CHECK-COUNT-3: nvvm.mma.sync
// CHECK-NOT: scf.if
// CHECK: scf.yield
// CHECK-COUNT-6: vector.store
// CHECK: } else {
// The C fragment of each tile, loaded only where it has rows.
// CHECK: %[[C0:.*]]:4 = scf.if %[[HAS0]] -> (f32, f32, f32, f32) {
// CHECK: vector.load {{.*}} vector<2xf32>
// CHECK: } else {
// CHECK: scf.yield %cst, %cst, %cst, %cst
// CHECK: %[[C1:.*]]:4 = scf.if %[[HAS1]]
// CHECK: %[[C2:.*]]:4 = scf.if %[[HAS2]]
// CHECK: %[[OUT:.*]]:12 = scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args
// The B fragment once per step for all tiles.
// CHECK: vector.load
// CHECK: vector.load
// CHECK: %[[S0:.*]]:4 = scf.if %[[HAS0]] -> (f32, f32, f32, f32) {
// CHECK: nvvm.mma.sync
// CHECK: } else {
// CHECK: %[[S1:.*]]:4 = scf.if %[[HAS1]]
// CHECK: nvvm.mma.sync
// CHECK: %[[S2:.*]]:4 = scf.if %[[HAS2]]
// CHECK: nvvm.mma.sync
// CHECK: scf.yield %[[S0]]#0, {{.*}}, %[[S2]]#3
// The results stored back only where there are rows.
// CHECK: scf.if %[[HAS0]] {
// CHECK: vector.from_elements %[[OUT]]#0, %[[OUT]]#1
// CHECK: scf.if %[[HAS1]] {
// CHECK: vector.from_elements %[[OUT]]#4, %[[OUT]]#5
// CHECK: scf.if %[[HAS2]] {
// CHECK: vector.from_elements %[[OUT]]#8, %[[OUT]]#9
// CHECK: gpu.barrier

// NVVM-LABEL: llvm.func @used_rows_kernel(
// NVVM-COUNT-6: nvvm.mma.sync
// NVVM-NOT: nvvm.mma.sync
// NVVM: llvm.return
func.func @used_rows_kernel(%x: memref<48x32xbf16>, %w: memref<32x32xbf16>, %out: memref<48x32xf32>, %count: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %tiles16 = arith.ceildivui %count, %c16 : index
    %tiles = arith.minsi %tiles16, %c3 : index
    %rows = arith.muli %tiles, %c16 : index
    %acc = memref.alloc() : memref<48x40xf32>
    %used = memref.subview %acc[0, 0] [%rows, 32] [1, 1] : memref<48x40xf32> to memref<?x32xf32, strided<[40, 1]>>
    linalg.fill ins(%zero : f32) outs(%used : memref<?x32xf32, strided<[40, 1]>>)
    %stage = memref.alloc() : memref<48x40xbf16>
    %staged = memref.subview %stage[0, 0] [48, 32] [1, 1] : memref<48x40xbf16> to memref<48x32xbf16, strided<[40, 1]>>
    linalg.copy ins(%x : memref<48x32xbf16>) outs(%staged : memref<48x32xbf16, strided<[40, 1]>>)
    %a = memref.subview %stage[0, 0] [%rows, 32] [1, 1] : memref<48x40xbf16> to memref<?x32xbf16, strided<[40, 1]>>
    linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x32xbf16, strided<[40, 1]>>, memref<32x32xbf16>) outs(%used : memref<?x32xf32, strided<[40, 1]>>) attrs = {moe.tensor_core} {
    ^bb0(%in: bf16, %bw: bf16, %c: f32):
      %af = arith.extf %in : bf16 to f32
      %bf = arith.extf %bw : bf16 to f32
      %m = arith.mulf %af, %bf : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
    }
    %outUsed = memref.subview %out[0, 0] [%rows, 32] [1, 1] : memref<48x32xf32> to memref<?x32xf32, strided<[32, 1]>>
    linalg.copy ins(%used : memref<?x32xf32, strided<[40, 1]>>) outs(%outUsed : memref<?x32xf32, strided<[32, 1]>>)
    memref.dealloc %acc : memref<48x40xf32>
    memref.dealloc %stage : memref<48x40xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}
