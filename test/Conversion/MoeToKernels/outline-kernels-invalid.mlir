// RUN: moe-opt %s --moe-outline-kernels -split-input-file -verify-diagnostics

// Work outside the kernels cannot be launched from the manifest (a zero
// fill can: zero_init).
func.func @fill_outside(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 1.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  // expected-error @below {{the manifest cannot express this operation outside a kernel}}
  linalg.fill ins(%zero : f32) outs(%out : memref<?x4xf32>)
  scf.forall (%i) in (%t) {
    %v = memref.load %x[%i, %c0] : memref<?x4xf32>
    memref.store %v, %out[%i, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  return %out : memref<?x4xf32>
}

// -----

// A zero fill is zero_init only before the first kernel, of a whole
// allocation, with +0.
func.func @zero_fill_after_kernel(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  scf.forall (%i) in (%t) {
    %v = memref.load %x[%i, %c0] : memref<?x4xf32>
    memref.store %v, %out[%i, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  // expected-error @below {{the manifest cannot express this operation outside a kernel}}
  linalg.fill ins(%zero : f32) outs(%out : memref<?x4xf32>)
  return %out : memref<?x4xf32>
}

// -----

func.func @zero_fill_of_a_view(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  // A view of a buffer is not a buffer of the manifest.
  // expected-error @below {{the manifest cannot express this operation outside a kernel}}
  %view = memref.subview %out[0, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<1x4xf32, strided<[4, 1]>>
  linalg.fill ins(%zero : f32) outs(%view : memref<1x4xf32, strided<[4, 1]>>)
  scf.forall (%i) in (%t) {
    %v = memref.load %x[%i, %c0] : memref<?x4xf32>
    memref.store %v, %out[%i, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  return %out : memref<?x4xf32>
}

// -----

func.func @negative_zero_fill(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant -0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  // expected-error @below {{the manifest cannot express this operation outside a kernel}}
  linalg.fill ins(%zero : f32) outs(%out : memref<?x4xf32>)
  scf.forall (%i) in (%t) {
    %v = memref.load %x[%i, %c0] : memref<?x4xf32>
    memref.store %v, %out[%i, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  return %out : memref<?x4xf32>
}

// -----

func.func @unnamed_forall(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  scf.forall (%i) in (%t) {
    %v = memref.load %x[%i, %c0] : memref<?x4xf32>
    memref.store %v, %out[%i, %c0] : memref<?x4xf32>
  } {mapping = [#gpu.block<x>], moe.kernel = "copy"}
  // expected-error @below {{an scf.forall outside the kernels must name its kernel (moe.kernel)}}
  scf.forall (%i) in (%t) {
  } {mapping = [#gpu.block<x>]}
  return %out : memref<?x4xf32>
}

// -----

// The output must be a buffer the layer owns.
func.func @returns_input(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  scf.forall (%i) in (%t) {
  } {mapping = [#gpu.block<x>], moe.kernel = "nothing"}
  // expected-error @below {{a layer function must return an allocation of its own}}
  return %x : memref<?x4xf32>
}

// -----

// A grid that is not a formula in T (here: read from memory).
func.func @data_dependent_size(%x: memref<?x4xf32>, %n: memref<1xindex>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  // expected-error @below {{the manifest cannot express this operation outside a kernel}}
  %m = memref.load %n[%c0] : memref<1xindex>
  %out = memref.alloc(%t) : memref<?x4xf32>
  scf.forall (%i) in (%m) {
  } {mapping = [#gpu.block<x>], moe.kernel = "k"}
  return %out : memref<?x4xf32>
}

// -----

// A kernel's iterations must all be blocks.
func.func @thread_mapped(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%t) : memref<?x4xf32>
  // expected-error @below {{a kernel's scf.forall must map every dimension to block x, y or z}}
  scf.forall (%i) in (%t) {
  } {mapping = [#gpu.thread<x>], moe.kernel = "k"}
  return %out : memref<?x4xf32>
}

// -----

// Buffers are dense row-major.
// expected-error @below {{buffer 'hidden_states' must be a memref with the identity layout}}
func.func @strided_argument(%x: memref<?x4xf32, strided<[8, 1]>>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x4xf32, strided<[8, 1]>>
  %out = memref.alloc(%t) : memref<?x4xf32>
  scf.forall (%i) in (%t) {
  } {mapping = [#gpu.block<x>], moe.kernel = "k"}
  return %out : memref<?x4xf32>
}
