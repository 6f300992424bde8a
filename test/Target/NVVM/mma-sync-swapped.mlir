// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-gpu --canonicalize --cse | FileCheck %s
// RUN: moe-opt %s --moe-distribute-threads --moe-kernels-to-nvvm | FileCheck %s --check-prefix=NVVM

// The swapped form: a block of 8 rows (decode) multiplies C^T = W x X^T,
// the weights as mma.sync's 16-row side A and the tokens as its 8-column
// side B, so half as much padding is multiplied as with 16-row tiles. The
// warps split the 64 columns into 16-column tiles (one each). Each lane
// (g = lane / 4, t = lane % 4) holds C[2t, g], C[2t + 1, g], C[2t, g + 8],
// C[2t + 1, g + 8] (C^T's rows g, g + 8 at columns 2t, 2t + 1), loads the
// tokens' B fragment (token row g at k = 2t and 2t + 8) and the weights'
// A fragment (weight rows g, g + 8 at those k) at each step of 16.

#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (n, k)>
#mm_c = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: gpu.func @decode_kernel(
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[WARP:.*]] = arith.divui %[[TID]], %c32 : index
// CHECK: %[[COL0:.*]] = arith.muli %[[WARP]], %c16 : index
// CHECK: %[[W:.*]] = memref.subview %{{.*}}[%[[COL0]], 0] [16, 32] [1, 1]
// CHECK: %[[C:.*]] = memref.subview %{{.*}}[0, %[[COL0]]] [8, 16] [1, 1]
// CHECK: %[[LANE:.*]] = gpu.lane_id
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4 : index
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4 : index
// CHECK: %[[T2:.*]] = arith.muli %[[T]], %c2 : index
// CHECK: %[[T21:.*]] = arith.addi %[[T2]], %c1 : index
// CHECK: %[[G8:.*]] = arith.addi %[[G]], %c8 : index
// C's scalars in the registers' order (no 64-bit pairs: a lane's two
// columns are 8 apart).
// CHECK: %[[C0:.*]] = memref.load %[[C]][%[[T2]], %[[G]]]
// CHECK: %[[C1:.*]] = memref.load %[[C]][%[[T21]], %[[G]]]
// CHECK: %[[C2:.*]] = memref.load %[[C]][%[[T2]], %[[G8]]]
// CHECK: %[[C3:.*]] = memref.load %[[C]][%[[T21]], %[[G8]]]
// CHECK: %[[OUT:.*]]:4 = scf.for %[[K:.*]] = %c0 to %c32 step %c16 iter_args(%[[A0:.*]] = %[[C0]], %[[A1:.*]] = %[[C1]], %[[A2:.*]] = %[[C2]], %[[A3:.*]] = %[[C3]])
// CHECK: %[[LOW:.*]] = arith.addi %[[K]], %[[T2]] : index
// CHECK: %[[HIGH:.*]] = arith.addi %[[LOW]], %c8 : index
// CHECK-DAG: %[[PX0:.*]] = vector.load %[[X:.*]][%[[G]], %[[LOW]]] {alignment = 4 : i64} : memref<8x32xbf16>, vector<2xbf16>
// CHECK-DAG: %[[PX1:.*]] = vector.load %[[X]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[PW0:.*]] = vector.load %[[W]][%[[G]], %[[LOW]]]
// CHECK-DAG: %[[PW1:.*]] = vector.load %[[W]][%[[G8]], %[[LOW]]]
// CHECK-DAG: %[[PW2:.*]] = vector.load %[[W]][%[[G]], %[[HIGH]]]
// CHECK-DAG: %[[PW3:.*]] = vector.load %[[W]][%[[G8]], %[[HIGH]]]
// CHECK-DAG: %[[QX0:.*]] = vector.bitcast %[[PX0]] : vector<2xbf16> to vector<1xi32>
// CHECK-DAG: %[[QX1:.*]] = vector.bitcast %[[PX1]]
// CHECK-DAG: %[[QW0:.*]] = vector.bitcast %[[PW0]]
// CHECK-DAG: %[[QW1:.*]] = vector.bitcast %[[PW1]]
// CHECK-DAG: %[[QW2:.*]] = vector.bitcast %[[PW2]]
// CHECK-DAG: %[[QW3:.*]] = vector.bitcast %[[PW3]]
// CHECK-DAG: %[[RX0:.*]] = vector.extract %[[QX0]][0]
// CHECK-DAG: %[[RX1:.*]] = vector.extract %[[QX1]][0]
// CHECK-DAG: %[[RW0:.*]] = vector.extract %[[QW0]][0]
// CHECK-DAG: %[[RW1:.*]] = vector.extract %[[QW1]][0]
// CHECK-DAG: %[[RW2:.*]] = vector.extract %[[QW2]][0]
// CHECK-DAG: %[[RW3:.*]] = vector.extract %[[QW3]][0]
// CHECK: %[[D:.*]] = nvvm.mma.sync A[%[[RW0]], %[[RW1]], %[[RW2]], %[[RW3]]] B[%[[RX0]], %[[RX1]]] C[%[[A0]], %[[A1]], %[[A2]], %[[A3]]] {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: scf.yield
// CHECK: memref.store %[[OUT]]#0, %[[C]][%[[T2]], %[[G]]]
// CHECK: memref.store %[[OUT]]#1, %[[C]][%[[T21]], %[[G]]]
// CHECK: memref.store %[[OUT]]#2, %[[C]][%[[T2]], %[[G8]]]
// CHECK: memref.store %[[OUT]]#3, %[[C]][%[[T21]], %[[G8]]]
// CHECK: gpu.barrier

// NVVM-LABEL: llvm.func @decode_kernel(
// NVVM-NOT: vector.
// NVVM-COUNT-1: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// NVVM-NOT: nvvm.mma.sync
func.func @decode_kernel(%x: memref<8x128xbf16>, %w: memref<64x128xbf16>, %out: memref<8x64xf32>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "output", "T"], grid = (d0) -> (1, 1, 1)>} {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<8x64xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<8x64xf32>)
    %stage = memref.alloc() : memref<8x32xbf16>
    scf.for %k0 = %c0 to %c128 step %c32 {
      %xs = memref.subview %x[0, %k0] [8, 32] [1, 1] : memref<8x128xbf16> to memref<8x32xbf16, strided<[128, 1], offset: ?>>
      linalg.copy ins(%xs : memref<8x32xbf16, strided<[128, 1], offset: ?>>) outs(%stage : memref<8x32xbf16>)
      %ws = memref.subview %w[0, %k0] [64, 32] [1, 1] : memref<64x128xbf16> to memref<64x32xbf16, strided<[128, 1], offset: ?>>
      linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%stage, %ws : memref<8x32xbf16>, memref<64x32xbf16, strided<[128, 1], offset: ?>>) outs(%acc : memref<8x64xf32>) attrs = {moe.tensor_core} {
      ^bb0(%a: bf16, %bw: bf16, %c: f32):
        %af = arith.extf %a : bf16 to f32
        %bf = arith.extf %bw : bf16 to f32
        %m = arith.mulf %af, %bf : f32
        %s = arith.addf %c, %m : f32
        linalg.yield %s : f32
      }
    }
    linalg.copy ins(%acc : memref<8x64xf32>) outs(%out : memref<8x64xf32>)
    memref.dealloc %acc : memref<8x64xf32>
    memref.dealloc %stage : memref<8x32xbf16>
  } {mapping = [#gpu.block<x>]}
  return
}

// 8 rows whose columns do not split into a 16-column tile per warp (32
// columns among 4 warps) are not shared among the warps as mma tiles:
// each thread takes elements of the product instead (moe-form-kernels
// gives such blocks 2 warps, FormKernels.cpp).
// CHECK-LABEL: gpu.func @narrow_kernel(
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args
// CHECK: arith.mulf
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.return
func.func @narrow_kernel(%x: memref<8x32xbf16>, %w: memref<32x32xbf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "down", params = ["workspace0", "weight0", "T"], grid = (d0) -> (1, 1, 1)>} {
  %zero = arith.constant 0.0 : f32
  scf.forall (%b) in (1) {
    %acc = memref.alloc() : memref<8x32xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<8x32xf32>)
    linalg.generic {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<8x32xbf16>, memref<32x32xbf16>) outs(%acc : memref<8x32xf32>) attrs = {moe.tensor_core} {
    ^bb0(%a: bf16, %bw: bf16, %c: f32):
      %af = arith.extf %a : bf16 to f32
      %bf = arith.extf %bw : bf16 to f32
      %m = arith.mulf %af, %bf : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
    }
    memref.dealloc %acc : memref<8x32xf32>
  } {mapping = [#gpu.block<x>]}
  return
}
