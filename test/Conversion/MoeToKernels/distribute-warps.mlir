// RUN: moe-opt %s --split-input-file --moe-distribute-threads --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-distribute-threads="threads=64" --canonicalize --cse | FileCheck %s --check-prefix=TWO

// A moe.tensor_core contraction (a [16, 64] f32 accumulator += a staged
// [16, 32] bf16 chunk x a [64, 32] weight chunk^T) moves into a forall over
// the block's warps (128 threads: 4): warp w takes columns 16w .. 16w + 16,
// every row and the whole chunk, and stays one marked contraction for the
// mma.sync lowering. The staging copy is shared among the threads.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(i, j) -> (i, j)>

// CHECK-LABEL: func.func @gemm_kernel(
// CHECK-SAME: block = [128, 1, 1]
// CHECK-SAME: shared_memory = 5120
// CHECK: %[[ACC:.*]] = memref.alloc() : memref<16x64xf32>
// CHECK: %[[STAGE:.*]] = memref.alloc() : memref<16x32xbf16>
// CHECK: scf.for %[[K0:.*]] = %c0 to %c128 step %c32 {
// CHECK: scf.forall (%{{.*}}) in (128) {
// CHECK: memref.subview %[[STAGE]]
// CHECK: linalg.copy
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: %[[W:.*]] = memref.subview %{{.*}}[0, %[[K0]]] [64, 32] [1, 1]
// CHECK: scf.forall (%[[WARP:.*]]) in (4) {
// CHECK: %[[COL:.*]] = arith.muli %[[WARP]], %c16 : index
// CHECK: %[[WB:.*]] = memref.subview %[[W]][%[[COL]], 0] [16, 32] [1, 1]
// CHECK: %[[WC:.*]] = memref.subview %[[ACC]][0, %[[COL]]] [16, 16] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[STAGE]], %[[WB]] : memref<16x32xbf16>, memref<16x32xbf16, strided<[128, 1], offset: ?>>) outs(%[[WC]] : memref<16x16xf32, strided<[64, 1], offset: ?>>) attrs = {moe.tensor_core}
// CHECK: } {mapping = [#gpu.warp<x>]}

// With 64 threads, two warps of 32 columns each.
// TWO-LABEL: func.func @gemm_kernel(
// TWO: scf.forall (%[[WARP:.*]]) in (2) {
// TWO: arith.muli %[[WARP]], %c32 : index
// TWO: memref.subview %{{.*}} [16, 32] [1, 1]
// TWO: attrs = {moe.tensor_core}
// TWO: } {mapping = [#gpu.warp<x>]}
func.func @gemm_kernel(%x: memref<16x128xbf16>, %w: memref<64x128xbf16>, %out: memref<16x64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    %stage = memref.alloc() : memref<16x32xbf16>
    scf.for %k0 = %c0 to %c128 step %c32 {
      %xs = memref.subview %x[0, %k0] [16, 32] [1, 1] : memref<16x128xbf16> to memref<16x32xbf16, strided<[128, 1], offset: ?>>
      linalg.copy ins(%xs : memref<16x32xbf16, strided<[128, 1], offset: ?>>) outs(%stage : memref<16x32xbf16>)
      %ws = memref.subview %w[0, %k0] [64, 32] [1, 1] : memref<64x128xbf16> to memref<64x32xbf16, strided<[128, 1], offset: ?>>
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%stage, %ws : memref<16x32xbf16>, memref<64x32xbf16, strided<[128, 1], offset: ?>>) outs(%acc : memref<16x64xf32>) attrs = {moe.tensor_core} {
      ^bb0(%a: bf16, %bw: bf16, %c: f32):
        %af = arith.extf %a : bf16 to f32
        %bf = arith.extf %bw : bf16 to f32
        %m = arith.mulf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    }
    linalg.copy ins(%acc : memref<16x64xf32>) outs(%out : memref<16x64xf32>)
    memref.dealloc %acc : memref<16x64xf32>
    memref.dealloc %stage : memref<16x32xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// 40 columns do not split into 8-column mma tiles among 4 warps: the
// threads share the contraction as any other op, and the mark goes.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @ragged_kernel(
// CHECK-NOT: gpu.warp
// CHECK-NOT: moe.tensor_core
// CHECK: scf.forall (%{{.*}}) in (128) {
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args
// CHECK: } {mapping = [#gpu.thread<x>]}
func.func @ragged_kernel(%x: memref<16x32xbf16>, %w: memref<40x32xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<16x40xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x40xf32>)
    linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<16x32xbf16>, memref<40x32xbf16>) outs(%acc : memref<16x40xf32>) attrs = {moe.tensor_core} {
    ^bb0(%a: bf16, %bw: bf16, %c: f32):
      %af = arith.extf %a : bf16 to f32
      %bf = arith.extf %bw : bf16 to f32
      %m = arith.mulf %af, %bf : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
    }
    memref.dealloc %acc : memref<16x40xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// moe.block_threads on the block forall (moe-select-tiles' warps) wins over
// the threads option: 256 threads, eight warps of 8 columns each.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @eight_warps(
// CHECK-SAME: block = [256, 1, 1]
// CHECK: scf.forall (%{{.*}}) in (256) {
// CHECK: } {mapping = [#gpu.thread<x>]}
// CHECK: scf.forall (%[[WARP:.*]]) in (8) {
// CHECK: arith.muli %[[WARP]], %c8 : index
// CHECK: attrs = {moe.tensor_core}
// CHECK: } {mapping = [#gpu.warp<x>]}
// TWO-LABEL: func.func @eight_warps(
// TWO-SAME: block = [256, 1, 1]
// TWO: scf.forall (%{{.*}}) in (8) {
func.func @eight_warps(%x: memref<16x32xbf16>, %w: memref<64x32xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<16x32xbf16>, memref<64x32xbf16>) outs(%acc : memref<16x64xf32>) attrs = {moe.tensor_core} {
    ^bb0(%a: bf16, %bw: bf16, %c: f32):
      %af = arith.extf %a : bf16 to f32
      %bf = arith.extf %bw : bf16 to f32
      %m = arith.mulf %af, %bf : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
    }
    memref.dealloc %acc : memref<16x64xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "down", moe.block_threads = 256 : i64}
  return
}
