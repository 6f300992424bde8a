// Dispatch is a counting sort: histogram, prefix sum, then a scatter that
// visits routed rows in order, advancing a per-expert cursor.
func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  return %p, %o : tensor<?xi32>, tensor<9xi32>
}

// Experts: a loop over experts; each gathers its rows (scaled by the routing
// weight here: row_scale), runs gate_up, SiLU-GLU and down GEMMs of dynamic
// size, and inserts the result at its rows.
func.func @experts(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %s: tensor<?x2xf32>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %gu, %d row_scale %s ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// gpt-oss experts: biases added after both GEMMs, the clamped SwiGLU.
func.func @experts_swiglu_oai(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %gub down_bias %db ffn <activation = swiglu_oai> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// Combine: the inverse permutation, then a reduction over k in ascending
// order reading each token's rows through it, and one rounding to bf16.
func.func @combine(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) -> tensor<?x64xbf16> {
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// Without weights every row counts once (a tensor of ones stands in).
func.func @combine_unweighted(%rows: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = moe.combine %rows, %p {top_k = 1} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// Shared expert with a sigmoid gate: a [T, 1] GEMM with the gate, its sigmoid
// scaling every column.
func.func @shared_gated(%x: tensor<?x64xbf16>, %gu: tensor<96x64xbf16>, %d: tensor<64x48xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
