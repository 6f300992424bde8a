// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu=chips=sm_90 --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-nvvm=chips=sm_89,sm_90 | FileCheck %s --check-prefix=NVVM
// RUN: not moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu=chips=sm_80,sm_90 2>&1 | FileCheck %s --check-prefix=SM80

// A moe.tensor_core contraction of f8E4M3FN tiles (w8a8's e4m3 form)
// becomes mma.sync m16n8k32 e4m3: steps of 32 along the reduction, each
// 32-bit register holding four e4m3 (A: rows g, g + 8 at k = 4t and
// 4t + 16; B: weight row g at the same k), while C keeps m16n8k16's
// layout (columns 2t, 2t + 1). MLIR's nvvm.mma.sync has no dense e4m3
// shape: the mma is a call of LLVM's intrinsic. The body's decoding of
// the e4m3 bits is moe-form-kernels' (here a stand-in: the lowering checks
// that each factor reads one operand alone).

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: gpu.module @moe_kernels [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx84">]
// CHECK-LABEL: gpu.func @gemm_kernel(
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4 : index
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4 : index
// CHECK-DAG: %[[T4:.*]] = arith.muli %[[T]], %c4 : index
// CHECK-DAG: %[[T2:.*]] = arith.muli %[[T]], %c2 : index
// CHECK-DAG: %[[G8:.*]] = arith.addi %[[G]], %c8 : index
// C at columns 2t, 2t + 1 (not 4t), each row's pair one 64-bit access.
// CHECK: %[[P0:.*]] = vector.load %[[C:.*]][%[[G]], %[[T2]]] {alignment = 8 : i64} : {{.*}}, vector<2xf32>
// CHECK: %[[C0:.*]] = vector.extract %[[P0]][0]
// CHECK: %[[C1:.*]] = vector.extract %[[P0]][1]
// CHECK: %[[P1:.*]] = vector.load %[[C]][%[[G8]], %[[T2]]]
// CHECK: %[[C2:.*]] = vector.extract %[[P1]][0]
// CHECK: %[[C3:.*]] = vector.extract %[[P1]][1]
// CHECK: %[[OUT:.*]]:8 = scf.for %[[K:.*]] = %c0 to %c64 step %c32 iter_args(%[[A0:.*]] = %[[C0]], %[[A1:.*]] = %[[C1]], %[[A2:.*]] = %[[C2]], %[[A3:.*]] = %[[C3]],
// CHECK: %[[LOW:.*]] = arith.addi %[[K]], %[[T4]] : index
// CHECK: %[[HIGH:.*]] = arith.addi %[[LOW]], %c16 : index
// CHECK-DAG: %[[PA0:.*]] = vector.load %[[AS:.*]][%[[G]], %[[LOW]]] {alignment = 4 : i64} : memref<16x64xf8E4M3FN, strided<[80, 1]>>, vector<4xf8E4M3FN>
// CHECK-DAG: %[[PA1:.*]] = vector.load %[[AS]][%[[G8]], %[[LOW]]]
// CHECK-DAG: %[[PA2:.*]] = vector.load %[[AS]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[PA3:.*]] = vector.load %[[AS]][%[[G8]], %[[HIGH]]]
// CHECK-DAG: %[[PB0:.*]] = vector.load %[[B:.*]][%[[G]], %[[LOW]]]
// CHECK-DAG: %[[PB1:.*]] = vector.load %[[B]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[QA0:.*]] = vector.bitcast %[[PA0]] : vector<4xf8E4M3FN> to vector<1xi32>
// CHECK-DAG: %[[QA1:.*]] = vector.bitcast %[[PA1]]
// CHECK-DAG: %[[QA2:.*]] = vector.bitcast %[[PA2]]
// CHECK-DAG: %[[QA3:.*]] = vector.bitcast %[[PA3]]
// CHECK-DAG: %[[QB0:.*]] = vector.bitcast %[[PB0]]
// CHECK-DAG: %[[QB1:.*]] = vector.bitcast %[[PB1]]
// CHECK-DAG: %[[RA0:.*]] = vector.extract %[[QA0]][0]
// CHECK-DAG: %[[RA1:.*]] = vector.extract %[[QA1]][0]
// CHECK-DAG: %[[RA2:.*]] = vector.extract %[[QA2]][0]
// CHECK-DAG: %[[RA3:.*]] = vector.extract %[[QA3]][0]
// CHECK-DAG: %[[RB0:.*]] = vector.extract %[[QB0]][0]
// CHECK-DAG: %[[RB1:.*]] = vector.extract %[[QB1]][0]
// CHECK: %[[D:.*]] = llvm.call_intrinsic "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32"(%[[RA0]], %[[RA1]], %[[RA2]], %[[RA3]], %[[RB0]], %[[RB1]], %[[A0]], %[[A1]], %[[A2]], %[[A3]]) : (i32, i32, i32, i32, i32, i32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: scf.yield
// CHECK: %[[S0:.*]] = vector.from_elements %[[OUT]]#0, %[[OUT]]#1 : vector<2xf32>
// CHECK: vector.store %[[S0]], %[[C]][%[[G]], %[[T2]]] {alignment = 8 : i64}

// With chips sm_89 and sm_90 the PTX version is raised for both, and the
// call stays through the NVVM lowering.
// NVVM: gpu.module @moe_kernels [#nvvm.target<O = 3, chip = "sm_89", features = "+ptx84">, #nvvm.target<O = 3, chip = "sm_90", features = "+ptx84">]
// NVVM: llvm.call_intrinsic "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32"

// SM80: error: the expert GEMMs use e4m3 mma.sync m16n8k32, which sm_80 lacks (sm_89 or newer)
func.func @gemm_kernel(%x: memref<16x80xf8E4M3FN>, %w: memref<64x128xf8E4M3FN>, %out: memref<16x64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    %stage = memref.alloc() : memref<16x80xf8E4M3FN>
    %rows = memref.subview %stage[0, 0] [16, 64] [1, 1] : memref<16x80xf8E4M3FN> to memref<16x64xf8E4M3FN, strided<[80, 1]>>
    scf.for %k0 = %c0 to %c128 step %c64 {
      %ws = memref.subview %w[0, %k0] [64, 64] [1, 1] : memref<64x128xf8E4M3FN> to memref<64x64xf8E4M3FN, strided<[128, 1], offset: ?>>
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%rows, %ws : memref<16x64xf8E4M3FN, strided<[80, 1]>>, memref<64x64xf8E4M3FN, strided<[128, 1], offset: ?>>) outs(%acc : memref<16x64xf32>) attrs = {moe.tensor_core} {
      ^bb0(%a: f8E4M3FN, %bw: f8E4M3FN, %c: f32):
        %ai = arith.bitcast %a : f8E4M3FN to i8
        %bi = arith.bitcast %bw : f8E4M3FN to i8
        %af = arith.sitofp %ai : i8 to f32
        %bf = arith.sitofp %bi : i8 to f32
        %m = arith.mulf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    }
    linalg.copy ins(%acc : memref<16x64xf32>) outs(%out : memref<16x64xf32>)
    memref.dealloc %acc : memref<16x64xf32>
    memref.dealloc %stage : memref<16x80xf8E4M3FN>
  } {mapping = [#gpu.block<x>]}
  return
}
