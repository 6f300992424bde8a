// RUN: moe-opt %s --moe-kernel-abi | FileCheck %s
// RUN: moe-opt %s --moe-kernel-abi="tiles=8,32,32,16,4" | FileCheck %s --check-prefix=TILES

// Mixtral with a shared expert (Qwen2-MoE-like, ungated sum): every kernel
// becomes a function with a pointer per buffer, then T; buffers whose shape
// depends on T are rank-0 memrefs recast from T inside. The layer function
// keeps the allocations, calls the kernels in order and lists its buffers
// and launches; grids and shapes are formulas in T.

// The route kernel runs in the last block of each of the router kernel's
// rows, the dispatch kernel in the last block of all (moe-fuse-launches):
// one kernel, with the router's logits workspace0, the rows' ticket
// counters workspace3 (one per 16 tokens) and the dispatch's workspace8;
// the dispatch writes the permutation, the offsets, the inverse and the
// experts' first row blocks (workspace4 to workspace7).
// CHECK-LABEL: func.func @moe_layer_0_router_route_dispatch(
// CHECK-SAME: %[[X:[^:]*]]: memref<bf16>, %[[RW:[^:]*]]: memref<8x64xbf16>, %[[L:[^:]*]]: memref<f32>, %[[W:[^:]*]]: memref<f32>, %[[IDS:[^:]*]]: memref<i32>, %[[ROWS:[^:]*]]: memref<i32>, %{{[^:]*}}: memref<i32>, %{{[^:]*}}: memref<9xi32>, %{{[^:]*}}: memref<i32>, %{{[^:]*}}: memref<9xi32>, %{{[^:]*}}: memref<1xi32>, %[[T:[^:]*]]: index)
// CHECK-SAME: moe.kernel_abi = #moe.kernel_abi<kernel = "router_route_dispatch", params = ["hidden_states", "weight0", "workspace0", "workspace1", "workspace2", "workspace3", "workspace4", "workspace5", "workspace6", "workspace7", "workspace8", "T"], grid = (d0) -> (d0 ceildiv 16, 1, 1), block = [128, 1, 1], shared_memory = 30944>
// CHECK: %[[GRID:.*]] = arith.ceildivsi %[[T]], %{{.*}} : index
// CHECK: memref.reinterpret_cast %[[X]] to offset: [0], sizes: [%[[T]], 64], strides: [64, 1] : memref<bf16> to memref<?x64xbf16>
// CHECK: memref.reinterpret_cast %[[L]] to offset: [0], sizes: [%[[T]], 8], strides: [8, 1] : memref<f32> to memref<?x8xf32>
// CHECK: memref.reinterpret_cast %[[W]] to offset: [0], sizes: [%[[T]], 2], strides: [2, 1] : memref<f32> to memref<?x2xf32>
// CHECK: memref.reinterpret_cast %[[ROWS]] to offset: [0], sizes: [%[[GRID]]], strides: [1] : memref<i32> to memref<?xi32>
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%[[GRID]], 1)
// CHECK-NOT: memref.copy
// CHECK: memref.atomic_rmw addi
// CHECK: linalg.copy
// CHECK: memref.atomic_rmw addi
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 128 : i64, moe.kernel = "router_route_dispatch"}

// The shared expert's kernels run beside the routed experts' (moe-fuse-
// launches: independent, as many column tiles, the same threads): the
// tokens in order (no permutation or offsets), ceildiv(T, rows) row
// blocks after the routed experts' flat schedule; its activations
// (workspace11, [T, 32] bf16) and f32 output (workspace12, [T, 64]). Each
// kernel's branch has its temporaries; they share the shared memory.
// CHECK-LABEL: func.func @moe_layer_0_gate_up_shared_gate_up(
// CHECK-SAME: %{{.*}}: memref<bf16>, %{{.*}}: memref<8x96x64xbf16>, %{{.*}}: memref<64x64xbf16>, %{{.*}}: memref<i32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<bf16>, %{{.*}}: memref<bf16>, %{{.*}}: index)
// CHECK-SAME: kernel = "gate_up_shared_gate_up", params = ["hidden_states", "weight1", "weight3", "workspace4", "workspace5", "workspace7", "workspace10", "workspace11", "T"], grid = (d0) -> ((d0 * 2) ceildiv 16 + d0 ceildiv 16 + 8, 1, 1)
// CHECK: arith.cmpi ult
// CHECK-NEXT: scf.if
// CHECK: memref.alloc
// CHECK: } else {
// CHECK: memref.alloc
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 64 : i64, moe.kernel = "gate_up_shared_gate_up"}

// The combine runs in the last block of each of the merged down kernel's
// columns (one here; both down kernels take 64-column tiles): its own
// counter, workspace9; it adds the shared expert's output and writes the
// result type.
// CHECK-LABEL: func.func @moe_layer_0_shared_down_down_combine(
// CHECK-SAME: kernel = "shared_down_down_combine", params = ["weight2", "weight4", "workspace1", "workspace5", "workspace6", "workspace7", "workspace9", "workspace10", "workspace11", "workspace12", "workspace13", "output", "T"], grid = (d0) -> (d0 ceildiv 16 + (d0 * 2) ceildiv 16 + 8, 1, 1)
// CHECK: memref.atomic_rmw addi
// CHECK: scf.if
// CHECK: scf.for
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 64 : i64, moe.kernel = "shared_down_down_combine"}

// CHECK-LABEL: func.func @moe_layer_0(
// CHECK-SAME: moe.buffers = [#moe.buffer<name = "hidden_states", kind = "input", type = memref<?x64xbf16>, shape = (d0) -> (d0, 64)>
// CHECK-SAME: #moe.buffer<name = "workspace0", kind = "workspace", type = memref<?x8xf32>, shape = (d0) -> (d0, 8)>
// CHECK-SAME: #moe.buffer<name = "workspace3", kind = "workspace", type = memref<?xi32>, shape = (d0) -> (d0 ceildiv 16), zero_init = true>
// CHECK-SAME: #moe.buffer<name = "workspace4", kind = "workspace", type = memref<?xi32>, shape = (d0) -> (d0 * 2)>
// CHECK-SAME: #moe.buffer<name = "workspace8", kind = "workspace", type = memref<1xi32>, shape = (d0) -> (1), zero_init = true>
// CHECK-SAME: #moe.buffer<name = "workspace9", kind = "workspace", type = memref<1xi32>, shape = (d0) -> (1), zero_init = true>
// CHECK-SAME: #moe.buffer<name = "workspace11", kind = "workspace", type = memref<?x32xbf16>, shape = (d0) -> (d0, 32)>
// CHECK-SAME: #moe.buffer<name = "workspace12", kind = "workspace", type = memref<?x64xf32>, shape = (d0) -> (d0, 64)>
// CHECK-SAME: #moe.buffer<name = "output", kind = "output", type = memref<?x64xbf16>, shape = (d0) -> (d0, 64)>]
// CHECK-SAME: moe.launches = [@moe_layer_0_router_route_dispatch, @moe_layer_0_gate_up_shared_gate_up, @moe_layer_0_shared_down_down_combine]
// CHECK: %[[N:.*]] = memref.dim %{{.*}}, %{{.*}} : memref<?x64xbf16>
// The layer zeroes the counters before the kernels: the manifest's zero_init.
// CHECK: %[[ROW_COUNTERS:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : i32) outs(%[[ROW_COUNTERS]] : memref<?xi32>)
// CHECK: %[[COUNTER:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<1xi32>)
// CHECK-NEXT: %[[COLUMNS:.*]] = memref.alloc() : memref<1xi32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : i32) outs(%[[COLUMNS]] : memref<1xi32>)
// CHECK: call @moe_layer_0_router_route_dispatch({{.*}}, %[[COUNTER]], %[[N]])
// CHECK: call @moe_layer_0_gate_up_shared_gate_up(
// CHECK: call @moe_layer_0_shared_down_down_combine({{.*}}, %[[COLUMNS]], {{.*}}, %[[N]])
// CHECK-NOT: call
// CHECK-NOT: scf.forall
// CHECK: return

// TILES: kernel = "router_route_dispatch", {{.*}} grid = (d0) -> (d0 ceildiv 8, 1, 1)
// With 32-column gate_up tiles, the routed gate_up has two column tiles
// (I 48) and the shared one (I 32) one: apart. Both downs have four.
// TILES: kernel = "gate_up", {{.*}} grid = (d0) -> ((d0 * 2) ceildiv 32 + 8, 2, 1)
// TILES: kernel = "shared_gate_up", {{.*}} grid = (d0) -> (d0 ceildiv 32, 1, 1)
// TILES: kernel = "shared_down_down_combine", {{.*}} grid = (d0) -> (d0 ceildiv 32 + (d0 * 2) ceildiv 32 + 8, 4, 1)
// TILES: moe.buffers =
// TILES-SAME: type = memref<4xi32>, shape = (d0) -> (4), zero_init = true>
// TILES-SAME: moe.launches = [@moe_layer_0_router_route_dispatch, @moe_layer_0_gate_up, @moe_layer_0_shared_gate_up, @moe_layer_0_shared_down_down_combine]

module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0>}, moe.model = {name = "m", num_layers = 1 : i64, source = "qwen2_moe"}} {
  func.func @moe_layer_0(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x96x64xbf16>, %d: tensor<8x64x48xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
    %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
    return %0 : tensor<?x64xbf16>
  }
}
