// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-kernels-to-gpu

// A thread forall wider than the kernel's block.
func.func @wide(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = {kernel = "route", params = ["workspace0", "T"], grid = ["1", "1", "1"], block = [32, 1, 1]}} {
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
func.func @nested(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = {kernel = "route", params = ["workspace0", "T"], grid = ["1", "1", "1"], block = [32, 1, 1]}} {
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
func.func @small(%v: memref<64xf32>, %t: index) attributes {moe.kernel_abi = {kernel = "route", params = ["workspace0", "T"], grid = ["1", "1", "1"], block = [32, 1, 1], shared_memory = 64}} {
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
func.func private @declared(%t: index) attributes {moe.kernel_abi = {kernel = "route", params = ["T"], grid = ["1", "1", "1"]}}

// -----

// Shared memory holds only the temporaries at the top of the block body.
// expected-error @+1 {{a kernel of several threads may allocate only at the top of its block body}}
func.func @nested_alloc(%v: memref<32xf32>, %n: index, %t: index) attributes {moe.kernel_abi = {kernel = "route", params = ["workspace0", "T"], grid = ["1", "1", "1"], block = [32, 1, 1], shared_memory = 0}} {
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
