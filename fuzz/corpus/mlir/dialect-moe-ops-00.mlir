func.func @router(%x: tensor<?x64xbf16>, %w: tensor<8x64xbf16>, %b: tensor<8xbf16>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = moe.router %x, %w : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %1 = moe.router %x, %w bias %b : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16> -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

func.func @gate_softmax(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// Defaults are omitted when printing; every non-default value survives.
func.func @gate_grouped(%l: tensor<4x256xf32>, %b: tensor<256xf32>) -> (tensor<4x8xf32>, tensor<4x8xi32>) {
  %w, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 8, normalization = sum, normEpsilon = 1.0e-20, nGroup = 8, topkGroup = 4, groupScore = top2_sum, scalingFactor = 2.5, placement = output> : tensor<4x256xf32>, tensor<256xf32> -> tensor<4x8xf32>, tensor<4x8xi32>
  return %w, %i : tensor<4x8xf32>, tensor<4x8xi32>
}

func.func @gate_pnorm_and_input_placement(%l: tensor<?x16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 4, normalization = pnorm, normP = 2.0> : tensor<?x16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  %w1, %i1 = moe.gate %l routing <scoring = sigmoid_after_topk, topK = 1, placement = input> : tensor<?x16xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  return %w, %i, %w1, %i1 : tensor<?x4xf32>, tensor<?x4xi32>, tensor<?x1xf32>, tensor<?x1xi32>
}

func.func @dispatch(%ids: tensor<?x2xi32>, %ids4: tensor<4x2xi32>) -> (tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %p4, %o4 = moe.dispatch %ids4 {num_experts = 8} : tensor<4x2xi32> -> tensor<8xi32>, tensor<9xi32>
  return %p, %o, %p4, %o4 : tensor<?xi32>, tensor<9xi32>, tensor<8xi32>, tensor<9xi32>
}

func.func @experts(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>) -> tensor<?x64xf32>
  %1 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %gub down_bias %db ffn <activation = swiglu_oai, alpha = 1.702, limit = 5.5> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
}

func.func @experts_relu_row_scale(%x: tensor<?x64xf16>, %p: tensor<?xi32>, %o: tensor<5xi32>, %u: tensor<4x32x64xf16>, %d: tensor<4x64x32xf16>, %s: tensor<?x1xf32>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %u, %d row_scale %s ffn <activation = relu> {top_k = 1} : (tensor<?x64xf16>, tensor<?xi32>, tensor<5xi32>, tensor<4x32x64xf16>, tensor<4x64x32xf16>, tensor<?x1xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

func.func @combine(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) -> (tensor<?x64xbf16>, tensor<?x64xf32>) {
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  %1 = moe.combine %rows, %p {top_k = 1} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0, %1 : tensor<?x64xbf16>, tensor<?x64xf32>
}

func.func @shared_expert(%x: tensor<?x64xbf16>, %gu: tensor<256x64xbf16>, %d: tensor<64x128xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<256x64xbf16>, tensor<64x128xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

func.func @layer_full(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %rb: tensor<8xbf16>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>, %sgu: tensor<96x64xbf16>, %sd: tensor<64x48xbf16>, %sg: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw router_bias %rb experts(%gu, %d, bias %gub, down_bias %db) shared(%sgu, %sd, gate %sg) routing <scoring = softmax_after_topk, topK = 4> ffn <activation = swiglu_oai> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xbf16>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

func.func @layer_grouped(%x: tensor<?x64xf32>, %rw: tensor<16x64xf32>, %cb: tensor<16xf32>, %gu: tensor<16x64x64xf32>, %d: tensor<16x64x32xf32>, %sgu: tensor<128x64xf32>, %sd: tensor<64x64xf32>) -> tensor<?x64xf32> {
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> ffn <activation = silu_glu> : (tensor<?x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64x64xf32>, tensor<16x64x32xf32>, tensor<128x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// The module attributes that map decoder layers to layer functions.
module @mapped attributes {moe.model = {name = "m", source = "moe-opt", num_layers = 4 : i64}, moe.layer_map = {f = array<i64: 1, 3>}} {
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    return %x : tensor<?x8xf32>
  }
}
