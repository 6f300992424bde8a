// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-gpu | FileCheck %s
// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-gpu="chips=sm_90 module-name=layer0" | FileCheck %s --check-prefix=CHIPS
// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-nvvm | FileCheck %s --check-prefix=NVVM --implicit-check-not=__nv_

// The outlined kernels move into one gpu.module with an NVVM target per
// chip; the block forall's indices become block ids; the layer function
// (host code) is dropped with the module's layer map.

// CHECK: module attributes {gpu.container_module
// CHECK-NOT: moe.layer_map
// CHECK: gpu.module @moe_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// A distributed kernel's per-block temporaries, bounded by the tile (16
// tokens), are views into the dynamic shared memory of its 128 threads at
// 16-byte aligned offsets (moe.kernel_abi's shared_memory bytes in all),
// seen through a cast to the generic address space with their dynamic
// size; no device malloc, no dealloc.
// The router kernel carries the route and dispatch kernels
// (moe-fuse-launches): a ticket per row of 16 tokens (the router's one
// column of 8 experts: the last ticket is 0), then one over all blocks.
// CHECK: gpu.func @moe_layer_0_router_route_dispatch(%{{.*}}: memref<bf16>, %{{.*}}: memref<8x64xbf16>, %{{.*}}: memref<f32>, %{{.*}}: memref<f32>, %{{.*}}: memref<i32>, %[[ROWS:.*]]: memref<i32>, %{{.*}}: memref<i32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<i32>, %{{.*}}: memref<9xi32>, %[[COUNTER:.*]]: memref<1xi32>, %[[T:.*]]: index) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK-SAME: moe.kernel_abi = #moe.kernel_abi<kernel = "router_route_dispatch", {{.*}} grid = (d0) -> (d0 ceildiv 16, 1, 1), block = [128, 1, 1], shared_memory = 30944>
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: %[[GRID:.*]] = arith.ceildivsi %[[T]], %c16 : index
// CHECK: %[[ROW_COUNTERS:.*]] = memref.reinterpret_cast %[[ROWS]] to offset: [0], sizes: [%[[GRID]]], strides: [1] : memref<i32> to memref<?xi32>
// CHECK: %[[BX:.*]] = gpu.block_id x
// CHECK: arith.muli %[[BX]], %{{.*}} : index
// CHECK: %[[COUNT:.*]] = arith.minsi %{{.*}}, %{{.*}} : index
// The router GEMM's partial sums, [16 tokens, 8 experts, 32 lanes] f32
// in a tile of 33 lanes (each logit's lanes in other banks than its
// neighbour's), a block temporary: a view into the dynamic shared memory,
// seen through a cast to the generic address space with its dynamic size.
// CHECK: %[[PARTIAL:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16x8x33xf32, #gpu.address_space<workgroup>>
// CHECK: %[[CAST:.*]] = memref.memory_space_cast %[[PARTIAL]] : memref<16x8x33xf32, #gpu.address_space<workgroup>> to memref<16x8x33xf32>
// CHECK: %[[PADDED:.*]] = memref.reinterpret_cast %[[CAST]] to offset: [0], sizes: [%[[COUNT]], 8, 33], strides: [264, 33, 1] : memref<16x8x33xf32> to memref<?x8x33xf32>
// CHECK: %[[VIEW:.*]] = memref.subview %[[PADDED]][0, 0, 0] [%[[COUNT]], 8, 32] [1, 1, 1] : memref<?x8x33xf32> to memref<?x8x32xf32, strided<[264, 33, 1]>>
// Its fill: nothing read before it in the kernel, so no barrier; thread t
// fills elements t, t + 128, ... of the flattened tile, then a barrier.
// CHECK-NOT: gpu.barrier
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[ELEMS:.*]] = arith.muli %[[COUNT]], %c256 : index
// CHECK: scf.for %[[I:.*]] = %[[TID]] to %[[ELEMS]] step %c128 {
// CHECK: %[[LANE:.*]] = arith.remui %[[I]], %c32 : index
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<1x1x1xf32, strided<[264, 33, 1], offset: ?>>)
// CHECK: }
// CHECK-NEXT: gpu.barrier
// The partial sums: thread t takes (token, expert, lane) t, t + 128, ...,
// neighbouring threads neighbouring lanes, each over the hidden size's
// 64 / 32 = 2 elements of its lane, in a register.
// CHECK: scf.for
// CHECK: %[[L:.*]] = arith.remui %{{.*}}, %c32 : index
// CHECK: memref.subview %{{.*}}[%{{.*}}, 0, %[[L]]] [1, 2, 1] [1, 1, 1] : memref<8x2x32xbf16> to memref<1x2x1xbf16, strided<[64, 32, 1], offset: ?>>
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// CHECK: arith.extf %{{.*}} : bf16 to f32
// Then the lanes summed in order, one thread per logit.
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// Then the row's ticket: after a barrier (every thread's writes done),
// thread 0 takes it between gpu-scope fences and leaves it in shared
// memory; the row's last block (here its only one) runs the route.
// CHECK: gpu.barrier
// CHECK: %[[ROW_TICKET:.*]] = memref.memory_space_cast %{{.*}} : memref<1xi32, #gpu.address_space<workgroup>> to memref<1xi32>
// CHECK: scf.if
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: %[[ROW_TAKEN:.*]] = memref.atomic_rmw addi %c1_i32, %[[ROW_COUNTERS]][%[[BX]]] : (i32, memref<?xi32>) -> i32
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: memref.store %[[ROW_TAKEN]], %[[ROW_TICKET]][%c0] : memref<1xi32>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[ROW_MINE:.*]] = memref.load %[[ROW_TICKET]][%c0] : memref<1xi32>
// CHECK-NEXT: %[[ROW_LAST:.*]] = arith.cmpi eq, %[[ROW_MINE]], %c0_i32 : i32
// CHECK: scf.if %[[ROW_LAST]] {
// CHECK: }
// Then the ticket over all blocks, taken the same way.
// CHECK: %[[TICKET:.*]] = memref.memory_space_cast %{{.*}} : memref<1xi32, #gpu.address_space<workgroup>> to memref<1xi32>
// CHECK-NEXT: gpu.barrier
// CHECK: %[[ZERO:.*]] = arith.cmpi ult, %thread_id_x{{.*}}, %c1{{.*}} : index
// CHECK-NEXT: scf.if %[[ZERO]] {
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: %[[TAKEN:.*]] = memref.atomic_rmw addi %c1_i32, %[[COUNTER]][%c0] : (i32, memref<1xi32>) -> i32
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: memref.store %[[TAKEN]], %[[TICKET]][%c0] : memref<1xi32>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[MINE:.*]] = memref.load %[[TICKET]][%c0] : memref<1xi32>
// CHECK-NEXT: %[[LAST_INDEX:.*]] = arith.subi %[[GRID]], %c1 : index
// CHECK-NEXT: %[[LAST:.*]] = arith.index_cast %[[LAST_INDEX]] : index to i32
// CHECK-NEXT: %[[IS_LAST:.*]] = arith.cmpi eq, %[[MINE]], %[[LAST]] : i32
// The block with the last ticket runs the dispatch kernel's body: it
// writes its [T * K] outputs directly; its counters are shared memory,
// its fills spread over the threads and its counting sort runs on thread 0
// between barriers.
// CHECK: memref.view {{.*}} to memref<8xi32, #gpu.address_space<workgroup>>
// CHECK: scf.if %[[IS_LAST]] {
// CHECK: gpu.barrier
// CHECK: %[[FIRST:.*]] = arith.cmpi ult, %thread_id_x{{.*}}, %c1{{.*}} : index
// CHECK: scf.if %[[FIRST]] {
// CHECK: scf.for
// CHECK: memref.store
// CHECK: }
// CHECK: gpu.barrier
// CHECK-NOT: scf.forall
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
// CHECK: gpu.return
// CHECK: gpu.func @moe_layer_0_gate_up(
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: gpu.block_id x
// CHECK: gpu.block_id y
// CHECK-NOT: memref.alloc
// CHECK: gpu.thread_id x
// The down kernel carries the combine (moe-fuse-launches): the block of
// the column with the last ticket walks the combine's tiles of 16 tokens,
// each shared among the threads, the sum over k in a register.
// CHECK: gpu.func @moe_layer_0_down_combine(
// CHECK-SAME: %[[COLUMNS:[^:]*]]: memref<1xi32>, %{{[^:]*}}: memref<bf16>, %{{[^:]*}}: memref<f32>, %{{[^:]*}}: memref<bf16>, %[[DT:[^:]*]]: index) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK-NOT: memref.alloc
// CHECK: %[[TILES:.*]] = arith.ceildivsi %[[DT]], %c16
// One column (64 / 64): its counter is element 0.
// CHECK: nvvm.memory.barrier <gpu>
// CHECK-NEXT: memref.atomic_rmw addi %c1_i32, %[[COLUMNS]][%c0]
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[TILES]] step %c1 {
// CHECK: gpu.thread_id x
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args(%{{.*}} = %{{.*}}) -> (f32) {
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: gpu.barrier
// CHECK-NOT: memref.alloc
// CHECK: gpu.return
// CHECK-NOT: func.func

// CHIPS: gpu.module @layer0 [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]

// After moe-kernels-to-nvvm, the manifest's ABI: a pointer per buffer, then T as i64.
// No libdevice call (__nv_*): the softmax's exp is upstream's polynomial,
// its fma LLVM's intrinsic (the PTX needs no CUDA toolkit).
// NVVM: gpu.module @moe_kernels
// Dynamic shared memory is an external array in address space 3.
// NVVM: llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// NVVM: llvm.func @moe_layer_0_router_route_dispatch(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)
// NVVM-SAME: gpu.kernel
// NVVM: nvvm.read.ptx.sreg.ctaid.x
// NVVM: nvvm.read.ptx.sreg.tid.x range <i32, 0, 128>
// NVVM: llvm.addrspacecast %{{.*}} : !llvm.ptr<3> to !llvm.ptr
// NVVM: nvvm.barrier0
// NVVM: nvvm.memory.barrier <gpu>
// NVVM: llvm.atomicrmw add %{{.*}}, %{{.*}} acq_rel : !llvm.ptr, i32
// NVVM-NEXT: nvvm.memory.barrier <gpu>
// NVVM: llvm.intr.fma
// NVVM: llvm.func @moe_layer_0_down_combine(

module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0>}} {
func.func @moe_layer_0(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x96x64xbf16>, %d: tensor<8x64x48xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
}
