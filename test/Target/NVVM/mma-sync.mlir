// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-nvvm | FileCheck %s --check-prefix=NVVM

// A moe.tensor_core contraction, shared among the block's 4 warps by
// moe-distribute-threads, becomes per-lane mma.sync m16n8k16 code: the
// warp id is thread id / 32; each lane (g = lane / 4, t = lane % 4) loads
// its C fragment (rows g and g + 8, columns 2t and 2t + 1 of each 16 x 8
// tile), keeps it in registers over the reduction in steps of 16, loading
// its A fragment (rows g, g + 8 at k = 2t and 2t + 8, two bf16 per 32-bit
// register) once per step for every column tile and the B fragment of
// each column tile (weight row g of it at the same k), and stores it back. Barriers separate it from the staging before and what follows.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: gpu.func @gemm_kernel(
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c32 {
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: %[[WARP:.*]] = arith.divui %[[TID]], %c32 : index
// CHECK: %[[COL0:.*]] = arith.muli %[[WARP]], %c16 : index
// CHECK: %[[B:.*]] = memref.subview %{{.*}}[%[[COL0]], 0] [16, 32] [1, 1]
// CHECK: %[[C:.*]] = memref.subview %{{.*}}[0, %[[COL0]]] [16, 16] [1, 1]
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4 : index
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4 : index
// CHECK: %[[T2:.*]] = arith.muli %[[T]], %c2 : index
// CHECK: %[[G8:.*]] = arith.addi %[[G]], %c8 : index
// CHECK: %[[T28:.*]] = arith.addi %[[T2]], %c8 : index
// The warp's [16, 16] slice of C is two 16 x 8 tiles: 8 values per lane,
// each row's pair (columns 2t, 2t + 1) one 64-bit access.
// CHECK: %[[P0:.*]] = vector.load %[[C]][%[[G]], %[[T2]]] {alignment = 8 : i64} : memref<16x16xf32, strided<[64, 1], offset: ?>>, vector<2xf32>
// CHECK: %[[C0:.*]] = vector.extract %[[P0]][0]
// CHECK: %[[C1:.*]] = vector.extract %[[P0]][1]
// CHECK: %[[P1:.*]] = vector.load %[[C]][%[[G8]], %[[T2]]]
// CHECK: %[[C2:.*]] = vector.extract %[[P1]][0]
// CHECK: %[[C3:.*]] = vector.extract %[[P1]][1]
// CHECK: %[[P2:.*]] = vector.load %[[C]][%[[G]], %[[T28]]]
// CHECK: %[[C4:.*]] = vector.extract %[[P2]][0]
// CHECK: %[[P3:.*]] = vector.load %[[C]][%[[G8]], %[[T28]]]
// CHECK: %[[C7:.*]] = vector.extract %[[P3]][1]
// CHECK: %[[OUT:.*]]:8 = scf.for %[[K:.*]] = %c0 to %c32 step %c16 iter_args(%[[A0:.*]] = %[[C0]], %[[A1:.*]] = %[[C1]], %[[A2:.*]] = %[[C2]], %[[A3:.*]] = %[[C3]], %[[A4:.*]] = %[[C4]], {{.*}}, {{.*}}, %[[A7:.*]] = %[[C7]])
// CHECK: %[[LOW:.*]] = arith.addi %[[K]], %[[T2]] : index
// CHECK: %[[HIGH:.*]] = arith.addi %[[LOW]], %c8 : index
// A once per step, as four 32-bit registers of two bf16 each, and B for
// each of the two column tiles (weight rows g and 8 + g). Each register is
// named by the element it starts at, so the operand order of the mma below
// is checked against the PTX ISA fragment layout (a0: row g, k 2t; a1: row
// g + 8, k 2t; a2: row g, k 2t + 8; a3: row g + 8, k 2t + 8; b0: k 2t;
// b1: k 2t + 8), whatever order the loads come in.
// CHECK-DAG: %[[PA0:.*]] = vector.load %[[AS:.*]][%[[G]], %[[LOW]]] {alignment = 4 : i64} : memref<16x32xbf16>, vector<2xbf16>
// CHECK-DAG: %[[PA1:.*]] = vector.load %[[AS]][%[[G8]], %[[LOW]]]
// CHECK-DAG: %[[PA2:.*]] = vector.load %[[AS]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[PA3:.*]] = vector.load %[[AS]][%[[G8]], %[[HIGH]]]
// CHECK-DAG: %[[PB0:.*]] = vector.load %[[B]][%[[G]], %[[LOW]]]
// CHECK-DAG: %[[PB1:.*]] = vector.load %[[B]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[PB2:.*]] = vector.load %[[B]][%[[G8]], %[[LOW]]]
// CHECK-DAG: %[[PB3:.*]] = vector.load %[[B]][%[[G8]], %[[HIGH]]]
// CHECK-DAG: %[[QA0:.*]] = vector.bitcast %[[PA0]] : vector<2xbf16> to vector<1xi32>
// CHECK-DAG: %[[QA1:.*]] = vector.bitcast %[[PA1]]
// CHECK-DAG: %[[QA2:.*]] = vector.bitcast %[[PA2]]
// CHECK-DAG: %[[QA3:.*]] = vector.bitcast %[[PA3]]
// CHECK-DAG: %[[QB0:.*]] = vector.bitcast %[[PB0]]
// CHECK-DAG: %[[QB1:.*]] = vector.bitcast %[[PB1]]
// CHECK-DAG: %[[QB2:.*]] = vector.bitcast %[[PB2]]
// CHECK-DAG: %[[QB3:.*]] = vector.bitcast %[[PB3]]
// CHECK-DAG: %[[RA0:.*]] = vector.extract %[[QA0]][0]
// CHECK-DAG: %[[RA1:.*]] = vector.extract %[[QA1]][0]
// CHECK-DAG: %[[RA2:.*]] = vector.extract %[[QA2]][0]
// CHECK-DAG: %[[RA3:.*]] = vector.extract %[[QA3]][0]
// CHECK-DAG: %[[RB0:.*]] = vector.extract %[[QB0]][0]
// CHECK-DAG: %[[RB1:.*]] = vector.extract %[[QB1]][0]
// CHECK-DAG: %[[RB2:.*]] = vector.extract %[[QB2]][0]
// CHECK-DAG: %[[RB3:.*]] = vector.extract %[[QB3]][0]
// CHECK: %[[D:.*]] = nvvm.mma.sync A[%[[RA0]], %[[RA1]], %[[RA2]], %[[RA3]]] B[%[[RB0]], %[[RB1]]] C[%[[A0]], %[[A1]], %[[A2]], %[[A3]]] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: llvm.extractvalue %[[D]][0]
// CHECK: llvm.extractvalue %[[D]][3]
// CHECK: %[[D2:.*]] = nvvm.mma.sync A[%[[RA0]], %[[RA1]], %[[RA2]], %[[RA3]]] B[%[[RB2]], %[[RB3]]] C[%[[A4]], {{.*}}, {{.*}}, %[[A7]]]
// CHECK: scf.yield
// CHECK: %[[S0:.*]] = vector.from_elements %[[OUT]]#0, %[[OUT]]#1 : vector<2xf32>
// CHECK: vector.store %[[S0]], %[[C]][%[[G]], %[[T2]]] {alignment = 8 : i64}
// CHECK: %[[S3:.*]] = vector.from_elements %[[OUT]]#6, %[[OUT]]#7 : vector<2xf32>
// CHECK: vector.store %[[S3]], %[[C]][%[[G8]], %[[T28]]] {alignment = 8 : i64}
// CHECK: gpu.barrier

// After NVVM lowering, the mma is the bf16 one with f32 accumulators and
// the fragments are 32-bit loads.
// NVVM-LABEL: llvm.func @gemm_kernel(
// NVVM-NOT: vector.
// NVVM: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
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

// A warp tile of 128 rows by 64 columns is 8 x 8 mma tiles: 256 f32
// registers at once would spill, so its columns go in two groups of 32
// tiles (128 registers), each a loop of its own over the reduction.
// CHECK-LABEL: gpu.func @wide_kernel(
// CHECK-COUNT-2: scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args
// CHECK-NOT: scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args
// CHECK: gpu.return
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu | awk '/gpu.func @wide_kernel/,/gpu.return/' | grep -c nvvm.mma.sync | FileCheck %s --check-prefix=WIDE
// WIDE: 64
func.func @wide_kernel(%x: memref<128x32xbf16>, %w: memref<256x32xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<128x256xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<128x256xf32>)
    linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<128x32xbf16>, memref<256x32xbf16>) outs(%acc : memref<128x256xf32>) attrs = {moe.tensor_core} {
    ^bb0(%a: bf16, %bw: bf16, %c: f32):
      %af = arith.extf %a : bf16 to f32
      %bf = arith.extf %bw : bf16 to f32
      %m = arith.mulf %af, %bf : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
    }
    memref.dealloc %acc : memref<128x256xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// bf16 mma.sync m16n8k16 needs sm_80 or newer.
// RUN: not moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu="chips=sm_75" 2>&1 | FileCheck %s --check-prefix=CHIP
// CHIP: error: the expert GEMMs use mma.sync m16n8k16, which sm_75 lacks (sm_80 or newer)
