// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-distribute-threads
// RUN: not moe-opt %s --split-input-file --moe-distribute-threads="threads=0" 2>&1 | FileCheck %s --check-prefix=OPTION

// OPTION: moe-distribute-threads: threads must be in 1..1024 and shared-memory non-negative

// An op that writes memory and defines a value cannot be given to thread 0
// alone: the other threads would use a value they did not compute.
func.func @atomic(%counts: memref<4xi32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "dispatch", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1 : i32
  scf.forall (%b) in (1) {
    // expected-error @+1 {{cannot run on one thread an op that writes memory and defines values}}
    %old = memref.atomic_rmw addi %one, %counts[%c0] : (i32, memref<4xi32>) -> i32
    memref.store %old, %counts[%c0] : memref<4xi32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// expected-error @+1 {{a kernel function must hold one block forall}}
func.func @two_foralls(%v: memref<8xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["workspace0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %one = arith.constant 1.0 : f32
  scf.forall (%b) in (1) {
    linalg.fill ins(%one : f32) outs(%v : memref<8xf32>)
  } {mapping = [#gpu.block<x>]}
  scf.forall (%b) in (1) {
    linalg.fill ins(%one : f32) outs(%v : memref<8xf32>)
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// expected-error @+1 {{a kernel function must have a body}}
func.func private @declared(%t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1)>}
