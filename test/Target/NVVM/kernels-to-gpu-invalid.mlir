// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-kernels-to-gpu

// A thread forall wider than the kernel's block.
func.func @wide(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1]>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    // expected-error @+1 {{expected a forall over at most 32 threads (x) of the block, not nested}}
    scf.forall (%i) in (64) {
      memref.store %one, %v[%i] : memref<64xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Thread foralls do not nest.
func.func @nested(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1]>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    scf.forall (%i) in (2) {
      // expected-error @+1 {{expected a forall over at most 32 threads (x) of the block, not nested}}
      scf.forall (%j) in (2) {
        memref.store %one, %v[%j] : memref<64xf32>
      } {mapping = [#gpu.thread<x>]}
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// The block temporaries must fit in the shared memory the launch asks for.
// expected-error @+1 {{the block temporaries do not fit in the 64 bytes of shared memory of moe.kernel_abi}}
func.func @small(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1], shared_memory = 64>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    %tmp = memref.alloc() : memref<32xf32>
    scf.forall (%i) in (32) {
      memref.store %one, %tmp[%i] : memref<32xf32>
    } {mapping = [#gpu.thread<x>]}
    memref.dealloc %tmp : memref<32xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// expected-error @+1 {{a kernel function must have a body}}
func.func private @declared(%t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1)>}

// -----

// Shared memory holds only the temporaries at the top of the block body.
// expected-error @+1 {{a kernel of several threads may allocate only bounded buffers at the top of its block body or of a branch there}}
func.func @nested_alloc(%v: memref<32xf32>, %n: index, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1]>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.forall (%b) in (1) {
    scf.for %i = %c0 to %n step %c1 {
      %tmp = memref.alloc() : memref<32xf32>
      memref.copy %tmp, %v : memref<32xf32> to memref<32xf32>
      memref.dealloc %tmp : memref<32xf32>
    }
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// mma.sync needs every lane: a warp forall covers all the block's warps.
func.func @few_warps(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1), block = [128, 1, 1]>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    // expected-error @+1 {{expected a forall over the 4 warps (x) of the block, not nested}}
    scf.forall (%w) in (2) {
      memref.store %one, %v[%w] : memref<64xf32>
    } {mapping = [#gpu.warp<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A warp's tensor-core contraction must be made of whole m16n8k16 tiles:
// 12 rows are not.
#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>
func.func @partial_tile(%x: memref<12x32xbf16>, %w: memref<32x32xbf16>, %acc: memref<12x32xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "workspace1", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1]>} {
  scf.forall (%b) in (1) {
    scf.forall (%warp) in (1) {
      // expected-error @+1 {{expected a moe.tensor_core contraction of static [16m, 8n] f32 += [16m, 16k] x [8n, 16k]^T in bf16 or f16 (widened, multiplied, added)}}
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<12x32xbf16>, memref<32x32xbf16>) outs(%acc : memref<12x32xf32>) attrs = {moe.tensor_core} {
      ^bb0(%a: bf16, %bw: bf16, %c: f32):
        %af = arith.extf %a : bf16 to f32
        %bf = arith.extf %bw : bf16 to f32
        %m = arith.mulf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    } {mapping = [#gpu.warp<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Only a multiply-accumulate body is what mma.sync computes.
#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>
func.func @not_a_gemm(%x: memref<16x32xbf16>, %w: memref<32x32xbf16>, %acc: memref<16x32xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "workspace1", "T"], grid = (d0) -> (1, 1, 1), block = [32, 1, 1]>} {
  scf.forall (%b) in (1) {
    scf.forall (%warp) in (1) {
      // expected-error @+1 {{expected a moe.tensor_core contraction}}
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<16x32xbf16>, memref<32x32xbf16>) outs(%acc : memref<16x32xf32>) attrs = {moe.tensor_core} {
      ^bb0(%a: bf16, %bw: bf16, %c: f32):
        %af = arith.extf %a : bf16 to f32
        %bf = arith.extf %bw : bf16 to f32
        %m = arith.subf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    } {mapping = [#gpu.warp<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A dynamic row count that is not provably whole tiles of 16 (here the
// block's count itself, not moe-form-kernels' used rows): its last tile
// would read and write rows past the views.
#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>
func.func @ragged_rows(%x: memref<48x32xbf16>, %w: memref<32x32xbf16>, %acc: memref<48x32xf32>, %count: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "workspace1", "T"], grid = (d0) -> (1, 1, 1), block = [128, 1, 1]>} {
  %c48 = arith.constant 48 : index
  scf.forall (%b) in (1) {
    %rows = arith.minsi %count, %c48 : index
    %used = memref.subview %acc[0, 0] [%rows, 32] [1, 1] : memref<48x32xf32> to memref<?x32xf32, strided<[32, 1]>>
    %a = memref.subview %x[0, 0] [%rows, 32] [1, 1] : memref<48x32xbf16> to memref<?x32xbf16, strided<[32, 1]>>
    scf.forall (%warp) in (4) {
      // expected-error @+1 {{m static, or a dynamic count of A's and C's rows that is a product with a multiple of 16 and has a constant bound}}
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x32xbf16, strided<[32, 1]>>, memref<32x32xbf16>) outs(%used : memref<?x32xf32, strided<[32, 1]>>) attrs = {moe.tensor_core} {
      ^bb0(%in: bf16, %bw: bf16, %c: f32):
        %af = arith.extf %in : bf16 to f32
        %bf = arith.extf %bw : bf16 to f32
        %m = arith.mulf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    } {mapping = [#gpu.warp<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}
