// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @router_hidden_mismatch(%x: tensor<?x64xbf16>, %w: tensor<8x32xbf16>) {
  // expected-error @+1 {{weight dimension 1 (H) is 32, but input dimension 1 says H = 64}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x32xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @router_logits_experts(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{logits dimension 1 (E) is 4, but weight dimension 0 says E = 8}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x4xf32>
  return
}

// -----

func.func @router_rank(%x: tensor<64xbf16>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{input must have rank 2 [T, H], got 'tensor<64xbf16>'}}
  %0 = moe.router %x, %w : tensor<64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @router_dynamic_weight(%x: tensor<?x64xbf16>, %w: tensor<?x64xbf16>) {
  // expected-error @+1 {{weight must have a static shape, got 'tensor<?x64xbf16>'}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<?x64xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @router_bias_size(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<4xbf16>) {
  // expected-error @+1 {{bias dimension 0 (E) is 4, but weight dimension 0 says E = 8}}
  %0 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<4xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @router_mixed_types(%x: tensor<?x64xbf16>, %w: tensor<8x64xf16>) {
  // expected-error @+1 {{input has element type 'bf16' but weight has 'f16'}}
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @router_int_input(%x: tensor<?x64xi8>, %w: tensor<8x64xbf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %0 = moe.router %x, %w : tensor<?x64xi8>, tensor<8x64xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @gate_topk_exceeds_experts(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the number of experts (8)}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 9> : tensor<?x8xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}

// -----

func.func @gate_weights_width(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{weights dimension 1 (K) is 3, but routing dimension 0 says K = 2}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x8xf32> -> tensor<?x3xf32>, tensor<?x3xi32>
  return
}

// -----

func.func @gate_token_mismatch(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{indices dimension 0 (T) is 5, but logits dimension 0 says T = 4}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<5x2xi32>
  return
}

// -----

func.func @gate_dynamic_experts(%l: tensor<?x?xf32>) {
  // expected-error @+1 {{logits need a static expert dimension, got 'tensor<?x?xf32>'}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x?xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_group_divides(%l: tensor<?x10xf32>) {
  // expected-error @+1 {{nGroup (4) does not divide the number of experts (10)}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 4, topkGroup = 2> : tensor<?x10xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_topk_in_kept_groups(%l: tensor<?x16xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the experts in the 2 kept groups of 4}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 9, nGroup = 4, topkGroup = 2> : tensor<?x16xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}

// -----

func.func @gate_top2_sum_singletons(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{group score top2_sum needs at least 2 experts per group, got 1}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 8, topkGroup = 4, groupScore = top2_sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_bias_after_topk(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{a correction bias needs scores before top-k, but scoring is softmax_after_topk}}
  %w, %i = moe.gate %l correction_bias %b routing <scoring = softmax_after_topk, topK = 2> : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_bias_size(%l: tensor<?x8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{correction_bias dimension 0 (E) is 7, but logits dimension 1 says E = 8}}
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 2> : tensor<?x8xf32>, tensor<7xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_f16_logits(%l: tensor<?x8xf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2> : tensor<?x8xf16> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_zero_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{topK must be at least 1, got 0}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 0> : tensor<?x8xf32> -> tensor<?x0xf32>, tensor<?x0xi32>
  return
}

// -----

func.func @routing_topk_group(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{topkGroup must be in [1, nGroup = 2], got 3}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 2, topkGroup = 3> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_zero_groups(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{nGroup must be at least 1, got 0}}
  %w, %i = moe.gate %l routing <scoring = sigmoid, topK = 2, nGroup = 0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_grouped_after_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{grouped selection (nGroup = 2) needs scores before top-k, but scoring is sigmoid_after_topk}}
  %w, %i = moe.gate %l routing <scoring = sigmoid_after_topk, topK = 1, nGroup = 2> : tensor<?x8xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  return
}

// -----

func.func @routing_negative_scaling(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{scalingFactor must be positive and finite, got -1.000000e+00}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, scalingFactor = -1.0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_bad_pnorm(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normP must be a positive finite number, got 0.000000e+00}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = pnorm, normP = 0.0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_negative_epsilon(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normEpsilon must be finite and non-negative, got -1.000000e-03}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normEpsilon = -0.001> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_unknown_scoring(%l: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::moe::Scoring to be one of: softmax, sigmoid, softmax_after_topk, sigmoid_after_topk}}
  // expected-error @+1 {{failed to parse Moe_RoutingAttr parameter 'scoring'}}
  %w, %i = moe.gate %l routing <scoring = tanh, topK = 2> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_missing_topk(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{struct is missing required parameter: topK}}
  %w, %i = moe.gate %l routing <scoring = softmax> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @dispatch_offsets(%ids: tensor<?x2xi32>) {
  // expected-error @+1 {{offsets dimension 0 (E+1) is 8, but num_experts dimension 0 says E+1 = 9}}
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<8xi32>
  return
}

// -----

func.func @dispatch_rows(%ids: tensor<4x2xi32>) {
  // expected-error @+1 {{permutation has 6 entries, expected T * K = 8}}
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<4x2xi32> -> tensor<6xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_zero_experts(%ids: tensor<?x2xi32>) {
  // expected-error @+1 {{attribute 'num_experts' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %p, %o = moe.dispatch %ids {num_experts = 0} : tensor<?x2xi32> -> tensor<?xi32>, tensor<1xi32>
  return
}

// -----

func.func @experts_gate_up_rows(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x32x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{gate_up has 32 rows, but silu_glu with down intermediate size I = 32 needs 2I = 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_relu_rows(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{gate_up has 64 rows, but relu with down intermediate size I = 32 needs I = 32}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = relu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_expert_count(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<4x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{gate_up dimension 0 (E) is 4, but down dimension 0 says E = 8}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<4x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_offsets(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<8xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{offsets dimension 0 (E+1) is 8, but E dimension 0 says E+1 = 9}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<8xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_hidden(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x48x32xbf16>) {
  // expected-error @+1 {{down dimension 1 (H) is 48, but input dimension 1 says H = 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x48x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_bias(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %b: tensor<8x32xbf16>) {
  // expected-error @+1 {{gate_up_bias has 32 entries per expert, expected 64}}
  %0 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %b ffn <activation = swiglu_oai> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_row_count(%x: tensor<4x64xbf16>, %p: tensor<6xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{has 6 routed rows, expected T * top_k = 4 * 2}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<4x64xbf16>, tensor<6xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<6x64xf32>
  return
}

// -----

func.func @experts_row_scale(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %s: tensor<?x2xf32>) {
  // expected-error @+1 {{row_scale dimension 1 (K) is 2, but top_k dimension 0 says K = 1}}
  %0 = moe.experts %x, %p, %o, %gu, %d row_scale %s ffn <activation = silu_glu> {top_k = 1} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_weight_type(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xf32>, %d: tensor<8x64x32xf32>) {
  // expected-error @+1 {{input has element type 'bf16' but gate_up has 'f32'}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xf32>, tensor<8x64x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @ffn_bad_limit(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{limit must be positive and finite, got 0.000000e+00}}
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = swiglu_oai, limit = 0.0> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @combine_weights(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x3xf32>) {
  // expected-error @+1 {{weights dimension 1 (K) is 3, but top_k dimension 0 says K = 2}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x3xf32>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @combine_hidden(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{result dimension 1 (H) is 32, but rows dimension 1 says H = 64}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x32xbf16>
  return
}

// -----

func.func @combine_rows(%rows: tensor<6x64xf32>, %p: tensor<6xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{has 6 routed rows, expected T * top_k = 4 * 2}}
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<6x64xf32>, tensor<6xi32>, tensor<4x2xf32>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @shared_gate_shape(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>, %g: tensor<2x64xbf16>) {
  // expected-error @+1 {{gate must be one row [1, H], got 'tensor<2x64xbf16>'}}
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>, tensor<2x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @shared_result_type(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>) {
  // expected-error @+1 {{input has element type 'bf16' but result has 'f16'}}
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>) -> tensor<?x64xf16>
  return
}

// -----

func.func @layer_result_type(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{result type 'tensor<?x64xf32>' must equal the input type 'tensor<?x64xbf16>'}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @layer_topk(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{top_k (16) exceeds the number of experts (8)}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 16> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @layer_router_experts(%x: tensor<?x64xbf16>, %rw: tensor<16x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{down dimension 0 (E) is 8, but router_weight dimension 0 says E = 16}}
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<16x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @layer_shared_hidden(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x32xbf16>, %sd: tensor<32x32xbf16>) {
  // expected-error @+1 {{shared_down dimension 0 (H) is 32, but input dimension 1 says H = 64}}
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x32xbf16>, tensor<32x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @layer_correction_bias_type(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %cb: tensor<8xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit float values, but got 'tensor<8xbf16>'}}
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) routing <scoring = sigmoid, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

// expected-error @+1 {{'moe.layer_map' names function @missing, which is not in the module}}
module attributes {moe.layer_map = {missing = array<i64: 0>}} {
}

// -----

// expected-error @+1 {{'moe.layer_map': layer 4 of @f is outside the model's 4 layers}}
module attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 4 : i64}, moe.layer_map = {f = array<i64: 4>}} {
  func.func @f() { return }
}

// -----

// expected-error @+1 {{'moe.layer_map': layer 1 is mapped to more than one function}}
module attributes {moe.layer_map = {f = array<i64: 1>, g = array<i64: 1>}} {
  func.func @f() { return }
  func.func @g() { return }
}

// -----

// expected-error @+1 {{'moe.model' needs a positive integer 'num_layers'}}
module attributes {moe.model = {name = "m", source = "moe-opt"}} {
}

// -----

// expected-error @+1 {{unknown moe dialect attribute 'moe.layers'}}
module attributes {moe.layers = 1} {
}

// -----

func.func @misplaced() attributes {moe.model = {name = "m", source = "s", num_layers = 1 : i64}} {
  // expected-error @-1 {{'moe.model' belongs on a builtin.module}}
  return
}

// -----

func.func @layer_shared_without_down(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x64xbf16>) {
  // expected-error @+1 {{shared_gate_up and shared_down come together}}
  %0 = "moe.layer"(%x, %rw, %gu, %d, %sgu) <{routing = #moe.routing<scoring = softmax, topK = 2>, ffn = #moe.ffn<activation = silu_glu>, operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0>}> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @layer_shared_gate_shape(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>, %sg: tensor<64xbf16>) {
  // expected-error @+1 {{shared_gate must have rank 2 [*, H], got 'tensor<64xbf16>'}}
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd, gate %sg) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @kernel_name_on_func() attributes {moe.kernel = "route"} {
  // expected-error @-1 {{'moe.kernel' must be a string on an scf.forall}}
  return
}

// -----

func.func @tiles_not_positive(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{tile entry 'expert_rows' must be a positive integer}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = #moe.tiles<expert_rows = 0>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @tiles_too_many_warps(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{tile entry 'down_warps' must be at most 32 warps}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = #moe.tiles<down_warps = 33>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @tiles_too_many_stages(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{tile entry 'gate_up_stages' must be at most 8 stages}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = #moe.tiles<gate_up_stages = 9>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @tiles_launches(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{tile entry 'launches' must be 3 or 4}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = #moe.tiles<launches = 2>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @tiles_unknown_entry(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{duplicate or unknown struct parameter name: expert_row}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = #moe.tiles<expert_row = 16>} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// A dictionary of the right keys is not the typed attribute.
func.func @tiles_dictionary(%r: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'moe.tiles' must be a #moe.tiles on a moe.combine}}
  %0 = moe.combine %r, %p {top_k = 1 : i64, moe.tiles = {expert_rows = 16 : i64}} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @tiles_not_on_combine() attributes {moe.tiles = #moe.tiles<launches = 3>} {
  // expected-error @-1 {{'moe.tiles' must be a #moe.tiles on a moe.combine}}
  return
}

// -----

func.func @block_threads_not_warps(%t: index) {
  // expected-error @+1 {{'moe.block_threads' must be 1 or a multiple of 32 up to 1024 on a kernel's scf.forall (moe.kernel)}}
  scf.forall (%b) in (%t) {
  } {mapping = [#gpu.block<x>], moe.kernel = "down", moe.block_threads = 48 : i64}
  return
}

// -----

func.func @block_threads_not_a_kernel(%t: index) {
  // expected-error @+1 {{'moe.block_threads' must be 1 or a multiple of 32 up to 1024 on a kernel's scf.forall (moe.kernel)}}
  scf.forall (%b) in (%t) {
  } {mapping = [#gpu.block<x>], moe.block_threads = 64 : i64}
  return
}

// -----

func.func @column_local_one_dimension(%t: index) {
  // expected-error @+1 {{'moe.column_local' must be a unit on a kernel's two-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b) in (%t) {
  } {mapping = [#gpu.block<x>], moe.kernel = "combine", moe.column_local}
  return
}

// -----

func.func @column_local_not_a_kernel(%t: index) {
  // expected-error @+1 {{'moe.column_local' must be a unit on a kernel's two-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b, %c) in (%t, 2) {
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local}
  return
}

// -----

func.func @column_local_not_unit(%t: index) {
  // expected-error @+1 {{'moe.column_local' must be a unit on a kernel's two-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b, %c) in (%t, 2) {
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "combine", moe.column_local = 1 : i64}
  return
}

// -----

func.func @column_tile_negative(%t: index) {
  // expected-error @+1 {{'moe.column_tile' must be a non-negative integer on a kernel's two-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b, %c) in (%t, 2) {
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "down", moe.column_tile = -32 : i64}
  return
}

// -----

func.func @column_tile_one_dimension(%t: index) {
  // expected-error @+1 {{'moe.column_tile' must be a non-negative integer on a kernel's two-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b) in (%t) {
  } {mapping = [#gpu.block<x>], moe.kernel = "down", moe.column_tile = 32 : i64}
  return
}

// -----

func.func @row_local_two_dimensions(%t: index) {
  // expected-error @+1 {{'moe.row_local' must be a unit on a kernel's one-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b, %c) in (%t, 2) {
  } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.kernel = "route", moe.row_local}
  return
}

// -----

func.func @row_local_not_a_kernel(%t: index) {
  // expected-error @+1 {{'moe.row_local' must be a unit on a kernel's one-dimensional scf.forall (moe.kernel)}}
  scf.forall (%b) in (%t) {
  } {mapping = [#gpu.block<x>], moe.row_local}
  return
}

// -----

// expected-error @+1 {{a kernel ABI's grid must have 3 results (x, y, z)}}
func.func @kernel_abi_grid() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1)>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's block must be 3 positive sizes of at most 1024 threads in all}}
func.func @kernel_abi_block() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1), block = [128, 0, 1]>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's block must be 3 positive sizes of at most 1024 threads in all}}
func.func @kernel_abi_block_threads() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1), block = [64, 32, 1]>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's shared memory must not be negative}}
func.func @kernel_abi_shared_memory() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1), block = [128, 1, 1], shared_memory = -16>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's params must be strings}}
func.func @kernel_abi_params() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = [1], grid = (d0) -> (1, 1, 1)>} {
  return
}

// -----

// Grids and shapes are maps from T whose results the manifest's formula
// grammar expresses (T, integers, +, -, * by an integer, ceildiv).
// expected-error @+1 {{a kernel ABI's grid is not a formula in T: the manifest has no floordiv or mod}}
func.func @kernel_abi_grid_floordiv() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (d0 floordiv 16, 1, 1)>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's grid is not a formula in T: it is not a map from one dimension, T}}
func.func @kernel_abi_grid_symbol() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0)[s0] -> (s0, 1, 1)>} {
  return
}

// -----

// expected-error @+1 {{a kernel ABI's grid is not a formula in T: it is not a map from one dimension, T}}
func.func @kernel_abi_grid_two_dims() attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0, d1) -> (d0, d1, 1)>} {
  return
}

// -----

func.func @kernel_abi_dictionary() attributes {moe.kernel_abi = {kernel = "route", params = ["T"], grid = ["1", "1", "1"]}} {
  // expected-error @-1 {{'moe.kernel_abi' must be a #moe.kernel_abi}}
  return
}

// -----

// expected-error @+1 {{'moe.kernel_abi' must be on a function}}
module attributes {moe.kernel_abi = #moe.kernel_abi<kernel = "route", params = ["T"], grid = (d0) -> (1, 1, 1)>} {
}

// -----

// expected-error @+1 {{buffer 'x' has 1 sizes for rank 2}}
func.func @buffer_rank() attributes {moe.buffers = [#moe.buffer<name = "x", kind = "input", type = memref<?x64xbf16>, shape = (d0) -> (d0)>]} {
  return
}

// -----

// expected-error @+1 {{the shape of buffer 'x' disagrees with its static size 64}}
func.func @buffer_static_size() attributes {moe.buffers = [#moe.buffer<name = "x", kind = "weight", type = memref<8x64xbf16>, shape = (d0) -> (8, 32)>]} {
  return
}

// -----

// expected-error @+1 {{the shape of buffer 'x' is not a formula in T: the manifest has no floordiv or mod}}
func.func @buffer_shape_mod() attributes {moe.buffers = [#moe.buffer<name = "x", kind = "workspace", type = memref<?xi32>, shape = (d0) -> (d0 mod 4)>]} {
  return
}

// -----

// expected-error @+1 {{a buffer's kind must be input, weight, output or workspace}}
func.func @buffer_kind() attributes {moe.buffers = [#moe.buffer<name = "x", kind = "scratch", type = memref<4xi32>, shape = (d0) -> (4)>]} {
  return
}

// -----

// expected-error @+1 {{a buffer's type must be a memref with the identity layout}}
func.func @buffer_layout() attributes {moe.buffers = [#moe.buffer<name = "x", kind = "workspace", type = memref<4xi32, strided<[2]>>, shape = (d0) -> (4)>]} {
  return
}

// -----

func.func @buffers_dictionary() attributes {moe.buffers = [{name = "x", kind = "input", shape = ["T"]}]} {
  // expected-error @-1 {{'moe.buffers' must be an array of #moe.buffer}}
  return
}

// -----

func.func @launches_not_symbols() attributes {moe.launches = ["route"]} {
  // expected-error @-1 {{'moe.launches' must be an array of kernel symbols}}
  return
}

// -----

// moe.tensor_core marks a GEMM-shaped structured op (two inputs, one
// output, loops m, n and the reduction k).
func.func @tensor_core_on_fill(%out: memref<16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  // expected-error @+1 {{'moe.tensor_core' marks a unit on a structured op with two inputs, one output and three loops, one a reduction}}
  linalg.fill {moe.tensor_core} ins(%zero : f32) outs(%out : memref<16x16xf32>)
  return
}

// -----

func.func @tensor_core_not_unit(%a: memref<16x16xbf16>, %b: memref<16x16xbf16>, %c: memref<16x16xf32>) {
  // expected-error @+1 {{'moe.tensor_core' marks a unit on a structured op}}
  linalg.matmul {moe.tensor_core = 1 : i64} ins(%a, %b : memref<16x16xbf16>, memref<16x16xbf16>) outs(%c : memref<16x16xf32>)
  return
}

// -----

// moe.async_copy marks a staging copy (no input: its body loads) or one
// 16-byte run of it (a vector.store) with the copies that may follow it
// before it is read.
func.func @async_copy_on_fill(%out: memref<16x16xbf16>) {
  %zero = arith.constant 0.0 : bf16
  // expected-error @+1 {{'moe.async_copy' must be a non-negative integer on a structured op with no input, one output and two parallel loops, or on a vector.store}}
  linalg.fill {moe.async_copy = 0 : i64} ins(%zero : bf16) outs(%out : memref<16x16xbf16>)
  return
}

// -----

func.func @async_copy_on_load(%in: memref<16x16xbf16>, %i: index) -> vector<8xbf16> {
  // expected-error @+1 {{'moe.async_copy' must be a non-negative integer on a structured op}}
  %v = vector.load %in[%i, %i] {moe.async_copy = 0 : i64} : memref<16x16xbf16>, vector<8xbf16>
  return %v : vector<8xbf16>
}

// -----

func.func @async_copy_unit(%in: memref<16x16xbf16>, %i: index) {
  %v = vector.load %in[%i, %i] : memref<16x16xbf16>, vector<8xbf16>
  // expected-error @+1 {{'moe.async_copy' must be a non-negative integer}}
  vector.store %v, %in[%i, %i] {moe.async_copy} : memref<16x16xbf16>, vector<8xbf16>
  return
}

// -----

func.func @async_copy_negative(%in: memref<16x16xbf16>, %i: index) {
  %v = vector.load %in[%i, %i] : memref<16x16xbf16>, vector<8xbf16>
  // expected-error @+1 {{'moe.async_copy' must be a non-negative integer}}
  vector.store %v, %in[%i, %i] {moe.async_copy = -1 : i64} : memref<16x16xbf16>, vector<8xbf16>
  return
}

// -----

func.func @dequantize_scale_shape(%q: tensor<4x320x200xf8E4M3FN>, %s: tensor<4x3x2xf32>) {
  // expected-error @+1 {{scale shape 'tensor<4x3x2xf32>' must be [4, 4, 2]: one scale per block of 128 x 128 in each of 2 stacked parts}}
  %0 = moe.dequantize %q, %s block [128, 128] stacked 2 : tensor<4x320x200xf8E4M3FN>, tensor<4x3x2xf32> -> tensor<4x320x200xbf16>
  return
}

// -----

func.func @dequantize_stacked(%q: tensor<4x321x200xf8E4M3FN>, %s: tensor<4x6x2xf32>) {
  // expected-error @+1 {{stacked 2 does not divide the 321 rows}}
  %0 = moe.dequantize %q, %s block [128, 128] stacked 2 : tensor<4x321x200xf8E4M3FN>, tensor<4x6x2xf32> -> tensor<4x321x200xbf16>
  return
}

// -----

func.func @dequantize_block(%q: tensor<4x64x64xf8E4M3FN>, %s: tensor<4x1x1xf32>) {
  // expected-error @+1 {{block must be two positive sizes [rows, columns]}}
  %0 = moe.dequantize %q, %s block [128] : tensor<4x64x64xf8E4M3FN>, tensor<4x1x1xf32> -> tensor<4x64x64xbf16>
  return
}

// -----

func.func @dequantize_fp8_shape(%q: tensor<4x64x32xf8E4M3FN>, %s: tensor<4x1x1xf32>) {
  // expected-error @+1 {{quantized shape 'tensor<4x64x32xf8E4M3FN>' does not hold the result 'tensor<4x64x64xbf16>'}}
  %0 = moe.dequantize %q, %s block [128, 128] : tensor<4x64x32xf8E4M3FN>, tensor<4x1x1xf32> -> tensor<4x64x64xbf16>
  return
}

// -----

func.func @dequantize_packed_shape(%q: tensor<2x64x96xi8>, %s: tensor<2x64x3xf8E8M0FNU>) {
  // expected-error @+1 {{does not hold the result 'tensor<2x64x96xbf16>' (two values per byte)}}
  %0 = moe.dequantize %q, %s block [1, 32] : tensor<2x64x96xi8>, tensor<2x64x3xf8E8M0FNU> -> tensor<2x64x96xbf16>
  return
}

// -----

func.func @dequantize_packed_scale(%q: tensor<2x64x48xi8>, %s: tensor<2x64x3xf32>) {
  // expected-error @+1 {{of packed e2m1 values (i8) takes f8E8M0FNU scales, not 'f32'}}
  %0 = moe.dequantize %q, %s block [1, 32] : tensor<2x64x48xi8>, tensor<2x64x3xf32> -> tensor<2x64x96xbf16>
  return
}

// -----

func.func @dequantize_fp8_e8m0(%q: tensor<2x64x64xf8E4M3FN>, %s: tensor<2x1x1xf8E8M0FNU>) {
  // expected-error @+1 {{of f8E4M3FN values takes f32 or bf16 scales}}
  %0 = moe.dequantize %q, %s block [128, 128] : tensor<2x64x64xf8E4M3FN>, tensor<2x1x1xf8E8M0FNU> -> tensor<2x64x64xbf16>
  return
}

// -----

func.func @dequantize_unsigned(%q: tensor<2x64x64xui8>, %s: tensor<2x1x1xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of f8E4M3FN type or 8-bit signless integer values}}
  %0 = moe.dequantize %q, %s block [128, 128] : tensor<2x64x64xui8>, tensor<2x1x1xf32> -> tensor<2x64x64xbf16>
  return
}

// -----

func.func @dequantize_rank(%q: tensor<64xf8E4M3FN>, %s: tensor<1xf32>) {
  // expected-error @+1 {{takes quantized values, scales and a result of one rank, at least 2}}
  %0 = moe.dequantize %q, %s block [128, 128] : tensor<64xf8E4M3FN>, tensor<1xf32> -> tensor<64xbf16>
  return
}

// -----

func.func @negative_fp8_group(%x: tensor<?x64xbf16>, %gu: tensor<64x64xbf16>, %d: tensor<64x32xbf16>) {
  // expected-error @+1 {{fp8_activation_group must be positive (or absent), got -1}}
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = silu_glu, fp8_activation_group = -1> : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @pow2_scales_without_group(%x: tensor<?x64xbf16>, %gu: tensor<64x64xbf16>, %d: tensor<64x32xbf16>) {
  // expected-error @+1 {{fp8_pow2_scales needs an fp8_activation_group}}
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = silu_glu, fp8_pow2_scales = true> : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @routing_negative_norm_min(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normMin must be finite and non-negative, got -1.000000e+00}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = sum, normMin = -1.0> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_norm_min_without_normalization(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{normMin bounds the norm of a normalization, but normalization is none}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normMin = 1.0e-12> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_jitter_without_sparsemixer(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{jitterEps is the relative gap of sparsemixer scoring, but scoring is softmax}}
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, jitterEps = 0.01> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_negative_jitter(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{jitterEps must be finite and non-negative, got -1.000000e-02}}
  %w, %i = moe.gate %l routing <scoring = sparsemixer, topK = 2, jitterEps = -0.01> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @routing_grouped_sparsemixer(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{grouped selection (nGroup = 2) needs scores before top-k, but scoring is sparsemixer}}
  %w, %i = moe.gate %l routing <scoring = sparsemixer, topK = 2, nGroup = 2, jitterEps = 0.01> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_bias_with_sparsemixer(%l: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{a correction bias needs scores before top-k, but scoring is sparsemixer}}
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sparsemixer, topK = 2, jitterEps = 0.01> : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
