// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-gpu | FileCheck %s
// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-gpu="chips=sm_90 module-name=layer0" | FileCheck %s --check-prefix=CHIPS
// RUN: moe-opt %s --moe-kernel-abi --moe-kernels-to-nvvm | FileCheck %s --check-prefix=NVVM

// The outlined kernels move into one gpu.module with an NVVM target per
// chip; the block forall's indices become block ids; the layer function
// (host code) is dropped with the module's layer map.

// CHECK: module attributes {gpu.container_module
// CHECK-NOT: moe.layer_map
// CHECK: gpu.module @moe_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// CHECK: gpu.func @moe_layer_0_route(%{{.*}}: memref<bf16>, %{{.*}}: memref<8x64xbf16>, %{{.*}}: memref<f32>, %{{.*}}: memref<i32>, %[[T:.*]]: index) kernel
// CHECK-SAME: known_block_size = array<i32: 1, 1, 1>
// CHECK-SAME: moe.kernel_abi = {grid = ["ceildiv(T,16)", "1", "1"], kernel = "route"
// CHECK: %[[BX:.*]] = gpu.block_id x
// CHECK: arith.muli %[[BX]], %{{.*}} : index
// Per-block temporaries bounded by the tile (16 tokens) live on the stack,
// viewed with their dynamic size; no device malloc, no dealloc.
// CHECK: %[[COUNT:.*]] = arith.minsi %{{.*}}, %{{.*}} : index
// CHECK: %[[LOGITS:.*]] = memref.alloca() : memref<16x8xf32>
// CHECK: memref.reinterpret_cast %[[LOGITS]] to offset: [0], sizes: [%[[COUNT]], 8], strides: [8, 1] : memref<16x8xf32> to memref<?x8xf32>
// CHECK-NOT: scf.forall
// CHECK-NOT: memref.alloc(
// CHECK-NOT: memref.dealloc
// CHECK: gpu.return
// The dispatch kernel's static temporaries too; its [T * K] arrays have no
// constant bound and stay allocations (device malloc).
// CHECK: gpu.func @moe_layer_0_dispatch(
// CHECK: memref.alloca() : memref<8xi32>
// CHECK: memref.alloc(%{{.*}}) {{.*}} : memref<?xi32>
// CHECK: gpu.func @moe_layer_0_gate_up(
// CHECK: gpu.block_id x
// CHECK: gpu.block_id y
// CHECK-NOT: memref.alloc(
// CHECK: gpu.func @moe_layer_0_down(
// CHECK-NOT: memref.alloc(
// CHECK: gpu.func @moe_layer_0_combine(
// CHECK-NOT: memref.alloc(
// CHECK-NOT: func.func

// CHIPS: gpu.module @layer0 [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]

// After moe-kernels-to-nvvm, the manifest's ABI: a pointer per buffer, then T as i64.
// NVVM: gpu.module @moe_kernels
// NVVM: llvm.func @moe_layer_0_route(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)
// NVVM-SAME: gpu.kernel
// NVVM: nvvm.read.ptx.sreg.ctaid.x
// NVVM: llvm.func @moe_layer_0_combine(

module attributes {moe.layer_map = {moe_layer_0 = array<i64: 0>}} {
func.func @moe_layer_0(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x96x64xbf16>, %d: tensor<8x64x48xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}
}
