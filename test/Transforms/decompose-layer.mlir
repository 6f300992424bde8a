// RUN: moe-opt %s --moe-decompose-layer | FileCheck %s
// RUN: moe-opt %s --moe-prepare | FileCheck %s

// Output placement: the gate's weights scale the combine.
// CHECK-LABEL: func.func @mixtral(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xbf16>, %[[RW:.*]]: tensor<8x64xbf16>, %[[GU:.*]]: tensor<8x256x64xbf16>, %[[D:.*]]: tensor<8x64x128xbf16>)
// CHECK: %[[LOGITS:.*]] = moe.router %[[X]], %[[RW]] : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.gate %[[LOGITS]] routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
// CHECK: %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]] {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
// CHECK: %[[ROWS:.*]] = moe.experts %[[X]], %[[PERM]], %[[OFF]], %[[GU]], %[[D]] ffn <activation = silu_glu> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xf32>
// CHECK: %[[OUT:.*]] = moe.combine %[[ROWS]], %[[PERM]] weights %[[W]] {top_k = 2 : i64} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
// CHECK-NOT: moe.layer
// CHECK: return %[[OUT]]
func.func @mixtral(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// Correction bias goes to the gate; a shared expert is added to the combine
// (in f32 both, here the storage type).
// CHECK-LABEL: func.func @deepseek(
// CHECK-SAME: %[[X:.*]]: tensor<4x64xf32>, %[[RW:.*]]: tensor<16x64xf32>, %[[CB:.*]]: tensor<16xf32>, %[[GU:.*]]: tensor<16x64x64xf32>, %[[D:.*]]: tensor<16x64x32xf32>, %[[SGU:.*]]: tensor<128x64xf32>, %[[SD:.*]]: tensor<64x64xf32>)
// CHECK: %[[LOGITS:.*]] = moe.router %[[X]], %[[RW]]
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.gate %[[LOGITS]] correction_bias %[[CB]] routing <scoring = sigmoid, topK = 4, {{.*}}groupScore = top2_sum{{.*}}> : tensor<4x16xf32>, tensor<16xf32> -> tensor<4x4xf32>, tensor<4x4xi32>
// CHECK: %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]] {num_experts = 16 : i64} : tensor<4x4xi32> -> tensor<16xi32>, tensor<17xi32>
// CHECK: %[[ROWS:.*]] = moe.experts %[[X]], %[[PERM]], %[[OFF]], %[[GU]], %[[D]] ffn <activation = silu_glu> {top_k = 4 : i64} {{.*}} -> tensor<16x64xf32>
// CHECK: %[[ROUTED:.*]] = moe.combine %[[ROWS]], %[[PERM]] weights %[[W]] {top_k = 4 : i64}
// CHECK: %[[SHARED:.*]] = moe.shared_expert %[[X]], %[[SGU]], %[[SD]] ffn <activation = silu_glu>
// CHECK: %[[SUM:.*]] = arith.addf %[[ROUTED]], %[[SHARED]] : tensor<4x64xf32>
// CHECK: return %[[SUM]]
func.func @deepseek(%x: tensor<4x64xf32>, %rw: tensor<16x64xf32>, %cb: tensor<16xf32>, %gu: tensor<16x64x64xf32>, %d: tensor<16x64x32xf32>, %sgu: tensor<128x64xf32>, %sd: tensor<64x64xf32>) -> tensor<4x64xf32> {
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> ffn <activation = silu_glu> : (tensor<4x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64x64xf32>, tensor<16x64x32xf32>, tensor<128x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// Input placement (Llama 4): the weights scale the expert input rows and the
// combine sums unweighted.
// CHECK-LABEL: func.func @llama4(
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.gate %{{.*}} routing <scoring = sigmoid_after_topk, topK = 1, placement = input>
// CHECK: %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch %[[IDS]]
// CHECK: %[[ROWS:.*]] = moe.experts %{{.*}}, %[[PERM]], %[[OFF]], %{{.*}}, %{{.*}} row_scale %[[W]] ffn <activation = silu_glu> {top_k = 1 : i64}
// CHECK: %[[ROUTED:.*]] = moe.combine %[[ROWS]], %[[PERM]] {top_k = 1 : i64} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
// CHECK: %[[SHARED:.*]] = moe.shared_expert {{.*}} -> tensor<?x64xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[ROUTED]], %[[SHARED]] : tensor<?x64xf32>
// CHECK: %[[OUT:.*]] = arith.truncf %[[SUM]] : tensor<?x64xf32> to tensor<?x64xbf16>
// CHECK: return %[[OUT]]
func.func @llama4(%x: tensor<?x64xbf16>, %rw: tensor<4x64xbf16>, %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// gpt-oss: the router bias and both expert biases are passed through; the
// Qwen2-MoE style sigmoid gate reaches the shared expert.
// CHECK-LABEL: func.func @biases_and_gate(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xf16>, %[[RW:.*]]: tensor<8x64xf16>, %[[RB:.*]]: tensor<8xf16>, %[[GU:.*]]: tensor<8x64x64xf16>, %[[D:.*]]: tensor<8x64x32xf16>, %[[GUB:.*]]: tensor<8x64xf16>, %[[DB:.*]]: tensor<8x64xf16>, %[[SGU:.*]]: tensor<64x64xf16>, %[[SD:.*]]: tensor<64x32xf16>, %[[SG:.*]]: tensor<1x64xf16>)
// CHECK: moe.router %[[X]], %[[RW]] bias %[[RB]]
// CHECK: moe.experts %[[X]], %{{.*}}, %{{.*}}, %[[GU]], %[[D]] gate_up_bias %[[GUB]] down_bias %[[DB]] ffn <activation = swiglu_oai>
// CHECK: moe.shared_expert %[[X]], %[[SGU]], %[[SD]] gate %[[SG]] ffn <activation = swiglu_oai>
func.func @biases_and_gate(%x: tensor<?x64xf16>, %rw: tensor<8x64xf16>, %rb: tensor<8xf16>, %gu: tensor<8x64x64xf16>, %d: tensor<8x64x32xf16>, %gub: tensor<8x64xf16>, %db: tensor<8x64xf16>, %sgu: tensor<64x64xf16>, %sd: tensor<64x32xf16>, %sg: tensor<1x64xf16>) -> tensor<?x64xf16> {
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 2> ffn <activation = swiglu_oai> : (tensor<?x64xf16>, tensor<8x64xf16>, tensor<8xf16>, tensor<8x64x64xf16>, tensor<8x64x32xf16>, tensor<8x64xf16>, tensor<8x64xf16>, tensor<64x64xf16>, tensor<64x32xf16>, tensor<1x64xf16>) -> tensor<?x64xf16>
  return %0 : tensor<?x64xf16>
}
