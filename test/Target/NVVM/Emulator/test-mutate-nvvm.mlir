// RUN: moe-opt %s --moe-test-mutate-nvvm="mutation=drop-barrier index=1" | FileCheck %s --check-prefix=DROP
// RUN: moe-opt %s --moe-test-mutate-nvvm="mutation=drop-barrier kernel=second" | FileCheck %s --check-prefix=DROPK
// RUN: moe-opt %s --moe-test-mutate-nvvm="mutation=divergent-barrier index=1" | FileCheck %s --check-prefix=DIVERGE
// RUN: moe-opt %s --moe-test-mutate-nvvm="mutation=swap-mma-lanes" | FileCheck %s --check-prefix=SWAP
// RUN: moe-opt %s --moe-test-mutate-nvvm="mutation=wait-group-off index=1" | FileCheck %s --check-prefix=WAIT
// RUN: not moe-opt %s --moe-test-mutate-nvvm="mutation=drop-barrier index=3" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not moe-opt %s --moe-test-mutate-nvvm="mutation=flip-bits" 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// Mutations for the SIMT emulator's tests: each changes one operation,
// counted in walk order among the functions whose name contains `kernel`.

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @first(%a: i32, %b: i32, %c: f32) attributes {gpu.kernel, nvvm.kernel} {
    nvvm.barrier0
    nvvm.cp.async.commit.group
    nvvm.cp.async.wait.group 0
    nvvm.barrier0 {tag = "second barrier"}
    nvvm.cp.async.wait.group 2
    %d = nvvm.mma.sync A[%a, %b, %a, %a] B[%b, %b] C[%c, %c, %c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>,
         shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    llvm.return
  }
  llvm.func @second() attributes {gpu.kernel, nvvm.kernel} {
    nvvm.barrier0 {tag = "third barrier"}
    llvm.return
  }
}

// DROP-LABEL: llvm.func @first(
// DROP: nvvm.barrier0
// DROP-NOT: second barrier
// DROP: llvm.func @second(
// DROP: nvvm.barrier0 {tag = "third barrier"}

// DROPK-LABEL: llvm.func @first(
// DROPK-COUNT-2: nvvm.barrier0
// DROPK-LABEL: llvm.func @second(
// DROPK-NOT: nvvm.barrier0
// DROPK: llvm.return

// The odd threads of the block skip the barrier.
// DIVERGE-LABEL: llvm.func @first(
// DIVERGE: nvvm.barrier0
// DIVERGE-NEXT: nvvm.cp.async.commit.group
// DIVERGE-NEXT: nvvm.cp.async.wait.group 0
// DIVERGE-NEXT: %[[TID:.*]] = nvvm.read.ptx.sreg.tid.x : i32
// DIVERGE-NEXT: %[[TWO:.*]] = llvm.mlir.constant(2 : i32) : i32
// DIVERGE-NEXT: %[[ZERO:.*]] = llvm.mlir.constant(0 : i32) : i32
// DIVERGE-NEXT: %[[ODD:.*]] = llvm.urem %[[TID]], %[[TWO]] : i32
// DIVERGE-NEXT: %[[EVEN:.*]] = llvm.icmp "eq" %[[ODD]], %[[ZERO]] : i32
// DIVERGE-NEXT: llvm.cond_br %[[EVEN]], ^[[BARRIER:.*]], ^[[AFTER:.*]]
// DIVERGE-NEXT: ^[[BARRIER]]:
// DIVERGE-NEXT: nvvm.barrier0 {tag = "second barrier"}
// DIVERGE-NEXT: llvm.br ^[[AFTER]]
// DIVERGE-NEXT: ^[[AFTER]]:
// DIVERGE-NEXT: nvvm.cp.async.wait.group 2

// SWAP-LABEL: llvm.func @first(
// SWAP-SAME: %[[A:.*]]: i32, %[[B:.*]]: i32, %{{.*}}: f32)
// SWAP: nvvm.mma.sync A[%[[B]], %[[A]], %[[A]], %[[A]]]  B[%[[B]], %[[B]]]

// WAIT-LABEL: llvm.func @first(
// WAIT: nvvm.cp.async.wait.group 0
// WAIT: nvvm.cp.async.wait.group 3

// RANGE: error: moe-test-mutate-nvvm: no nvvm.barrier0 #3 to mutate (3 in functions matching '')
// UNKNOWN: error: moe-test-mutate-nvvm: unknown mutation 'flip-bits' (drop-barrier, swap-mma-lanes, wait-group-off, divergent-barrier)
