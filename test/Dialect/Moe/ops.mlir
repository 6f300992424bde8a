// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func @router
func.func @router(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<8xbf16>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // CHECK: moe.router %{{.*}}, %{{.*}} : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  // CHECK: moe.router %{{.*}}, %{{.*}} bias %{{.*}} : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  %1 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// CHECK-LABEL: func @gate_softmax
func.func @gate_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  // CHECK: moe.gate %{{.*}} routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// Defaults are omitted when printing; every non-default value survives.
// CHECK-LABEL: func @gate_grouped
func.func @gate_grouped(%l: tensor<4x256xf32>, %b: tensor<256xf32>) -> (tensor<4x8xf32>, tensor<4x8xi32>) {
  // CHECK: moe.gate %{{.*}} correction_bias %{{.*}} routing <scoring = sigmoid, topK = 8, normalization = sum, normEpsilon = 9.9999999999999995E-21, nGroup = 8, topkGroup = 4, groupScore = top2_sum, scalingFactor = 2.500000e+00>
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 8, normalization = sum, normEpsilon = 1.0e-20, nGroup = 8, topkGroup = 4, groupScore = top2_sum, scalingFactor = 2.5, placement = output> : tensor<4x256xf32>, tensor<256xf32> -> tensor<4x8xf32>, tensor<4x8xi32>
  return %w, %i : tensor<4x8xf32>, tensor<4x8xi32>
}

// CHECK-LABEL: func @gate_pnorm_and_input_placement
func.func @gate_pnorm_and_input_placement(%l: tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>) {
  // CHECK: routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.000000e+00>
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  // CHECK: routing <scoring = sigmoid_after_topk, topK = 1, placement = input>
  %w1, %i1 = moe.gate %l routing <scoring = sigmoid_after_topk, topK = 1, placement = input> : tensor<?x16xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  return %w, %i, %w1, %i1 : tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>
}

// ERNIE 4.5's clamp of the sum (norm_min) and PhiMoE's sparsemixer with its
// relative gap (jitter_eps).
// CHECK-LABEL: func @gate_norm_min_and_sparsemixer
func.func @gate_norm_min_and_sparsemixer(%l: tensor<?x16xf32>, %b: tensor<16xf32>) -> (tensor<?x6xf32>, tensor<?x6xi32>, tensor<?x2xf32>, tensor<?x2xi32>) {
  // CHECK: routing <scoring = softmax, topK = 6, normalization = sum, normMin = 9.9999999999999998E-13>
  %w, %i = moe.gate %l correction_bias %b routing <scoring = softmax, topK = 6, normalization = sum, normMin = 1.0e-12> : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x6xf32>, tensor<?x6xi32>
  // CHECK: routing <scoring = sparsemixer, topK = 2, jitterEps = 0.0099999997764825821>
  %w1, %i1 = moe.gate %l routing <scoring = sparsemixer, topK = 2, jitterEps = 0.0099999997764825821> : tensor<?x16xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i, %w1, %i1 : tensor<?x6xf32>, tensor<?x6xi32>, tensor<?x2xf32>, tensor<?x2xi32>
}

// CHECK-LABEL: func @dispatch
func.func @dispatch(%ids: tensor<?x2xi32>, %ids4: tensor<4x2xi32>) -> (tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>) {
  // CHECK: moe.dispatch %{{.*}} {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %p4, %o4 = moe.dispatch %ids4 {num_experts = 8} : tensor<4x2xi32> -> tensor<8xi32>, tensor<9xi32>
  return %p, %o, %p4, %o4 : tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>
}

// CHECK-LABEL: func @experts
func.func @experts(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: moe.experts %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} ffn <activation = silu_glu> {top_k = 2 : i64}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  // CHECK: moe.experts %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} gate_up_bias %{{.*}} down_bias %{{.*}} ffn <activation = swiglu_oai, limit = 5.500000e+00> {top_k = 2 : i64}
  %1 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %gub down_bias %db ffn <activation = swiglu_oai, alpha = 1.702, limit = 5.5> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// CHECK-LABEL: func @experts_relu_row_scale
func.func @experts_relu_row_scale(%x: tensor<?x64xf16>, %p: tensor<?xi32>, %o: tensor<5xi32>, %u: tensor<4x32x64xf16>, %d: tensor<4x64x32xf16>, %s: tensor<?x1xf32>) -> tensor<?x64xf32> {
  // CHECK: moe.experts {{.*}} row_scale %{{.*}} ffn <activation = relu> {top_k = 1 : i64}
  %0 = moe.experts %x, %p, %o, %u, %d row_scale %s ffn <activation = relu> {top_k = 1} : (tensor<?x64xf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x32x64xf16>, tensor<4x64x32xf16>, tensor<?x1xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// CHECK-LABEL: func @combine
func.func @combine(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) -> (tensor<?x64xbf16>, tensor<?x64xf32>) {
  // CHECK: moe.combine %{{.*}}, %{{.*}} weights %{{.*}} {top_k = 2 : i64} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  // CHECK: moe.combine %{{.*}}, %{{.*}} {top_k = 1 : i64} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  %1 = moe.combine %rows, %p {top_k = 1} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xbf16>, tensor<?x64xf32>
}

// CHECK-LABEL: func @shared_expert
func.func @shared_expert(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  // CHECK: moe.shared_expert %{{.*}}, %{{.*}}, %{{.*}} gate %{{.*}} ffn <activation = silu_glu>
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// CHECK-LABEL: func @layer_full
func.func @layer_full(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %rb: tensor<8xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>, %sgu: tensor<96x64xbf16>, %sd: tensor<64x48xbf16>, %sg: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  // CHECK: moe.layer %{{.*}}, %{{.*}} router_bias %{{.*}} experts(%{{.*}}, %{{.*}}, bias %{{.*}}, down_bias %{{.*}}) shared(%{{.*}}, %{{.*}}, gate %{{.*}}) routing <scoring = softmax_after_topk, topK = 4> ffn <activation = swiglu_oai>
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 4> ffn <activation = swiglu_oai> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// CHECK-LABEL: func @layer_grouped
func.func @layer_grouped(%x: tensor<?x64xf32>, %rw: tensor<16x64xf32>, %cb: tensor<16xf32>, %gu: tensor<16x64x64xf32>, %d: tensor<16x64x32xf32>, %sgu: tensor<128x64xf32>, %sd: tensor<64x64xf32>) -> tensor<?x64xf32> {
  // CHECK: moe.layer %{{.*}}, %{{.*}} correction_bias %{{.*}} experts(%{{.*}}, %{{.*}}) shared(%{{.*}}, %{{.*}}) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.500000e+00> ffn <activation = silu_glu>
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64x64xf32>, tensor<16x64x32xf32>, tensor<128x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// The module attributes that map decoder layers to layer functions.
// CHECK-LABEL: module @mapped
// CHECK-SAME: moe.layer_map = {f = array<i64: 1, 3>}
// CHECK-SAME: moe.model = {name = "m", num_layers = 4 : i64, source = "moe-opt"}
module @mapped attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 4 : i64}, moe.layer_map = {f = array<i64: 1, 3>}} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}

// The kernel passes' typed attributes: tiles on a combine (entries may be
// left out), a kernel function's ABI and a layer function's buffers, with
// sizes as maps from T.
// CHECK-LABEL: func @tiles
// CHECK: moe.tiles = #moe.tiles<expert_rows = 32, gate_up_warps = 8, launches = 4>
func.func @tiles(%rows: tensor<?x64xf32>, %perm: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = moe.combine %rows, %perm {top_k = 1 : i64, moe.tiles = #moe.tiles<launches = 4, expert_rows = 32, gate_up_warps = 8>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// CHECK-LABEL: func @kernel_abi
// CHECK-SAME: moe.kernel_abi = #moe.kernel_abi<kernel = "gate_up", params = ["hidden_states", "T"], grid = (d0) -> ((d0 * 2) ceildiv 16 + 8, 2, 1), block = [128, 1, 1], shared_memory = 6144>
func.func @kernel_abi(%x: memref<bf16>, %t: index) attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "gate_up", params = ["hidden_states", "T"], grid = (d0) -> ((d0 * 2) ceildiv 16 + 8, 2, 1), block = [128, 1, 1], shared_memory = 6144>} {
  return
}

// CHECK-LABEL: func @buffers
// CHECK-SAME: moe.buffers = [#moe.buffer<name = "hidden_states", kind = "input", type = memref<?x64xbf16>, shape = (d0) -> (d0, 64)>, #moe.buffer<name = "workspace0", kind = "workspace", type = memref<1xi32>, shape = (d0) -> (1), zero_init = true>]
// CHECK-SAME: moe.launches = [@kernel_abi]
func.func @buffers() attributes {moe.buffers = [#moe.buffer<name = "hidden_states", kind = "input", type = memref<?x64xbf16>, shape = (d0) -> (d0, 64)>, #moe.buffer<name = "workspace0", kind = "workspace", type = memref<1xi32>, shape = (d0) -> (1), zero_init = true>], moe.launches = [@kernel_abi]} {
  return
}

// CHECK-LABEL: func @dequantize_fp8_blocks
// CHECK: moe.dequantize %{{.*}}, %{{.*}} block [128, 128] stacked 2 : tensor<4x320x200xf8E4M3FN>, tensor<4x4x2xf32> -> tensor<4x320x200xbf16>
// CHECK: moe.dequantize %{{.*}}, %{{.*}} block [200, 160] : tensor<4x200x160xf8E4M3FN>, tensor<4x1x1xbf16> -> tensor<4x200x160xbf16>
func.func @dequantize_fp8_blocks(%q: tensor<4x320x200xf8E4M3FN>, %s: tensor<4x4x2xf32>,
                                 %d: tensor<4x200x160xf8E4M3FN>, %ds: tensor<4x1x1xbf16>)
    -> (tensor<4x320x200xbf16>, tensor<4x200x160xbf16>) {
  %0 = moe.dequantize %q, %s block [128, 128] stacked 2 : tensor<4x320x200xf8E4M3FN>, tensor<4x4x2xf32> -> tensor<4x320x200xbf16>
  %1 = moe.dequantize %d, %ds block [200, 160] stacked 1 : tensor<4x200x160xf8E4M3FN>, tensor<4x1x1xbf16> -> tensor<4x200x160xbf16>
  return %0, %1 : tensor<4x320x200xbf16>, tensor<4x200x160xbf16>
}

// CHECK-LABEL: func @w8a8_experts
// CHECK: ffn <activation = silu_glu, fp8_activation_group = 128>
func.func @w8a8_experts(%x: tensor<?x64xbf16>, %perm: tensor<?xi32>, %offsets: tensor<5xi32>,
                        %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>) -> tensor<?x64xf32> {
  %r = moe.experts %x, %perm, %offsets, %gu, %d ffn <activation = silu_glu, fp8_activation_group = 128> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// CHECK-LABEL: func @w8a8_pow2_experts
// CHECK: ffn <activation = silu_glu, fp8_activation_group = 128, fp8_pow2_scales = true>
func.func @w8a8_pow2_experts(%x: tensor<?x64xbf16>, %perm: tensor<?xi32>, %offsets: tensor<5xi32>,
                             %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>) -> tensor<?x64xf32> {
  %r = moe.experts %x, %perm, %offsets, %gu, %d ffn <activation = silu_glu, fp8_activation_group = 128, fp8_pow2_scales = true> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// CHECK-LABEL: func @dequantize_mxfp4
// CHECK: moe.dequantize %{{.*}}, %{{.*}} block [1, 32] : tensor<2x64x48xi8>, tensor<2x64x3xf8E8M0FNU> -> tensor<2x64x96xbf16>
func.func @dequantize_mxfp4(%q: tensor<2x64x48xi8>, %s: tensor<2x64x3xf8E8M0FNU>) -> tensor<2x64x96xbf16> {
  %0 = moe.dequantize %q, %s block [1, 32] : tensor<2x64x48xi8>, tensor<2x64x3xf8E8M0FNU> -> tensor<2x64x96xbf16>
  return %0 : tensor<2x64x96xbf16>
}
