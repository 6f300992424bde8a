// RUN: moe-opt %s --convert-moe-to-linalg --canonicalize | FileCheck %s

// Dispatch is a stable counting sort in O(rows + chunks x experts) work:
// the routed rows in 128 contiguous chunks (dispatchChunks(8)), each
// counting its rows per expert, taking the prefix of its counts and
// sorting its rows by expert into its own range of a scratch array (an
// scf.forall over the chunks, each writing its own row of the [128, 8]
// counters and its own range); the experts' totals (a reduction over the
// chunks) and offsets (an scf.for over the experts); then per expert (an
// scf.forall) its rows gathered chunk by chunk into its segment of the
// permutation, in ascending row order.
// CHECK-LABEL: func.func @dispatch(
// CHECK-SAME: %[[IDS:.*]]: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<9xi32>)
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[IDS]] {{\[}}[0, 1]] : tensor<?x2xi32> into tensor<?xi32>
// CHECK: %[[ROWS:.*]] = arith.muli
// CHECK: %[[PER_CHUNK:.*]] = arith.ceildivui %[[ROWS]], %c128 : index
// CHECK: %[[ZEROS:.*]] = linalg.fill ins(%{{.*}} : i32) outs(%{{.*}} : tensor<128x8xi32>)
// CHECK: %[[SORTED:.*]]:3 = scf.forall (%[[P:.*]]) in (128) shared_outs(%[[CNT:.*]] = %[[ZEROS]], %[[END:.*]] = %{{.*}}, %[[SCRATCH:.*]] = %{{.*}}) -> (tensor<128x8xi32>, tensor<128x8xi32>, tensor<?xi32>) {
// CHECK: %[[FIRST:.*]] = arith.muli %[[P]], %[[PER_CHUNK]] : index
// CHECK: %[[LO:.*]] = arith.minui %[[FIRST]], %[[ROWS]] : index
// CHECK: %[[LEN:.*]] = arith.subi %{{.*}}, %[[LO]] : index
// Count the chunk's rows per expert in its own row of the counters.
// CHECK: %[[MINE:.*]] = tensor.extract_slice %[[CNT]][%[[P]], 0] [1, 8] [1, 1] : tensor<128x8xi32> to tensor<8xi32>
// CHECK: %[[COUNTED:.*]] = scf.for %{{.*}} = %c0 to %[[LEN]] step %c1 iter_args(%{{.*}} = %[[MINE]]) -> (tensor<8xi32>) {
// CHECK: tensor.extract %[[FLAT]]
// CHECK: arith.addi %{{.*}}, %c1_i32 : i32
// The exclusive prefix of its counts: each expert's start in the chunk.
// CHECK: %[[STARTS:.*]]:2 = scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args
// Its rows sorted by expert into its own range, stably.
// CHECK: %[[RANGE:.*]] = tensor.extract_slice %[[SCRATCH]][%[[LO]]] [%[[LEN]]] [1]
// CHECK: %[[PLACED:.*]]:2 = scf.for %{{.*}} = %c0 to %[[LEN]] step %c1 iter_args(%{{.*}} = %[[RANGE]], %{{.*}} = %[[STARTS]]#0)
// CHECK: scf.forall.in_parallel {
// CHECK: tensor.parallel_insert_slice %[[COUNTED]] into %[[CNT]][%[[P]], 0] [1, 8] [1, 1]
// CHECK: tensor.parallel_insert_slice %[[PLACED]]#1 into %[[END]][%[[P]], 0] [1, 8] [1, 1]
// CHECK: tensor.parallel_insert_slice %[[PLACED]]#0 into %[[SCRATCH]][%[[LO]]] [%[[LEN]]] [1]
// CHECK: %[[TOTALS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[SORTED]]#0 : tensor<128x8xi32>) outs(%{{.*}} : tensor<8xi32>)
// CHECK: %[[OFFSETS:.*]] = scf.for %[[X:.*]] = %c0 to %c8 {{.*}} -> (tensor<9xi32>)
// CHECK: tensor.extract %[[TOTALS]][%[[X]]]
// CHECK: %[[PERM:.*]] = scf.forall (%[[EXPERT:.*]]) in (8) shared_outs(%[[PO:.*]] = %{{.*}}) -> (tensor<?xi32>) {
// CHECK: %[[START32:.*]] = tensor.extract %[[OFFSETS]][%[[EXPERT]]]
// CHECK: %[[START:.*]] = arith.index_cast %[[START32]]
// CHECK: %[[N32:.*]] = tensor.extract %[[TOTALS]][%[[EXPERT]]]
// CHECK: %[[N:.*]] = arith.index_cast %[[N32]]
// CHECK: %[[SEGMENT:.*]] = tensor.extract_slice %[[PO]][%[[START]]] [%[[N]]] [1]
// Chunk after chunk, the expert's rows of it copied from the scratch.
// CHECK: %[[FILLED:.*]]:2 = scf.for %[[Q:.*]] = %c0 to %c128 step %c1 iter_args(%{{.*}} = %[[SEGMENT]], %{{.*}} = %c0)
// CHECK: tensor.extract %[[SORTED]]#0[%[[Q]], %[[EXPERT]]]
// CHECK: tensor.extract %[[SORTED]]#1[%[[Q]], %[[EXPERT]]]
// CHECK: scf.for
// CHECK: tensor.extract %[[SORTED]]#2
// CHECK: scf.forall.in_parallel {
// CHECK: tensor.parallel_insert_slice %[[FILLED]]#0 into %[[PO]][%[[START]]] [%[[N]]] [1]
// CHECK: return %[[PERM]], %[[OFFSETS]]
func.func @dispatch(%ids: tensor<?x2xi32>) -> (tensor<?xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  return %p, %o : tensor<?xi32>, tensor<9xi32>
}

// Experts: a loop over experts; each gathers its rows (scaled by the routing
// weight here: row_scale), runs gate_up, SiLU-GLU and down GEMMs of dynamic
// size, and inserts the result at its rows.
// CHECK-LABEL: func.func @experts(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xbf16>, %[[P:.*]]: tensor<?xi32>, %[[O:.*]]: tensor<9xi32>, %[[GU:.*]]: tensor<8x64x64xbf16>, %[[D:.*]]: tensor<8x64x32xbf16>, %[[S:.*]]: tensor<?x2xf32>)
// CHECK: %[[RESULT:.*]] = scf.for %[[E:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<?x64xf32>)
// CHECK: %[[START_I32:.*]] = tensor.extract %[[O]][%[[E]]]
// CHECK: %[[START:.*]] = arith.index_cast %[[START_I32]]
// CHECK: %[[COUNT:.*]] = arith.subi
// CHECK: %[[GATHERED:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: tensor.extract %[[P]]
// CHECK: arith.divui
// CHECK: tensor.extract %[[X]]
// CHECK: arith.remui
// CHECK: tensor.extract %[[S]]
// CHECK: arith.mulf
// CHECK-DAG: %[[DOWN_E:.*]] = tensor.extract_slice %[[D]][%[[E]], 0, 0] [1, 64, 32] [1, 1, 1] : tensor<8x64x32xbf16> to tensor<64x32xbf16>
// CHECK-DAG: %[[GU_E:.*]] = tensor.extract_slice %[[GU]][%[[E]], 0, 0] [1, 64, 64] [1, 1, 1] : tensor<8x64x64xbf16> to tensor<64x64xbf16>
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[GATHERED]], %[[GU_E]] : tensor<?x64xf32>, tensor<64x64xbf16>)
// CHECK: %[[GATE:.*]] = tensor.extract_slice %[[H]][0, 0] [%[[COUNT]], 32] [1, 1]
// CHECK: %[[UP:.*]] = tensor.extract_slice %[[H]][0, 32] [%[[COUNT]], 32] [1, 1]
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: math.exp
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[ACT]], %[[DOWN_E]] : tensor<?x32xf32>, tensor<64x32xbf16>)
// CHECK: %[[INSERTED:.*]] = tensor.insert_slice %[[OUT]] into %[[ACC]][%[[START]], 0] [%[[COUNT]], 64] [1, 1]
// CHECK: scf.yield %[[INSERTED]]
// CHECK: return %[[RESULT]]
func.func @experts(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %s: tensor<?x2xf32>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %gu, %d row_scale %s ffn <activation = silu_glu> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<?x2xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// gpt-oss experts: biases added after both GEMMs, the clamped SwiGLU: the
// gate (first half) clamped from above only, up (second half) both ways
// and shifted by one: (clamp(u) + 1) * g * sigmoid(1.702 g).
// CHECK-LABEL: func.func @experts_swiglu_oai(
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[ALPHA:.*]] = arith.constant 1.702000e+00 : f32
// CHECK-DAG: %[[LIMIT:.*]] = arith.constant 7.000000e+00 : f32
// CHECK-DAG: %[[NLIMIT:.*]] = arith.constant -7.000000e+00 : f32
// CHECK: scf.for
// CHECK: tensor.extract_slice %{{.*}} : tensor<8x64xbf16> to tensor<64xbf16>
// CHECK: %[[HGATE:.*]] = tensor.extract_slice %{{.*}}[0, 0] [%{{.*}}, 32] [1, 1]
// CHECK: %[[HUP:.*]] = tensor.extract_slice %{{.*}}[0, 32] [%{{.*}}, 32] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[HGATE]], %[[HUP]] : tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK-NEXT: ^bb0(%[[G:.*]]: f32, %[[U:.*]]: f32, %{{.*}}: f32):
// CHECK-DAG: %[[GC:.*]] = arith.minimumf %[[G]], %[[LIMIT]] : f32
// CHECK-DAG: %[[UHI:.*]] = arith.minimumf %[[U]], %[[LIMIT]] : f32
// CHECK-DAG: %[[UC:.*]] = arith.maximumf %[[UHI]], %[[NLIMIT]] : f32
// CHECK-DAG: %[[AG:.*]] = arith.mulf %[[GC]], %[[ALPHA]] : f32
// CHECK-DAG: %[[NEG:.*]] = arith.negf %[[AG]] : f32
// CHECK-DAG: %[[EXP:.*]] = math.exp %[[NEG]] : f32
// CHECK-DAG: %[[DEN:.*]] = arith.addf %[[EXP]], %[[ONE]] : f32
// CHECK-DAG: %[[SIG:.*]] = arith.divf %[[ONE]], %[[DEN]] : f32
// CHECK-DAG: %[[GLU:.*]] = arith.mulf %[[GC]], %[[SIG]] : f32
// CHECK-DAG: %[[U1:.*]] = arith.addf %[[UC]], %[[ONE]] : f32
// CHECK-DAG: %[[R:.*]] = arith.mulf %[[U1]], %[[GLU]] : f32
// CHECK: linalg.yield %[[R]] : f32
func.func @experts_swiglu_oai(%x: tensor<?x64xbf16>, %p: tensor<?xi32>, %o: tensor<9xi32>, %gu: tensor<8x64x64xbf16>, %d: tensor<8x64x32xbf16>, %gub: tensor<8x64xbf16>, %db: tensor<8x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.experts %x, %p, %o, %gu, %d gate_up_bias %gub down_bias %db ffn <activation = swiglu_oai> {top_k = 2} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x64x64xbf16>, tensor<8x64x32xbf16>, tensor<8x64xbf16>, tensor<8x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// Combine: the inverse permutation, then a reduction over k in ascending
// order reading each token's rows through it, and one rounding to bf16.
// CHECK-LABEL: func.func @combine(
// CHECK-SAME: %[[ROWS:.*]]: tensor<?x64xf32>, %[[P:.*]]: tensor<?xi32>, %[[W:.*]]: tensor<?x2xf32>)
// CHECK: %[[INV:.*]] = scf.for {{.*}} -> (tensor<?xi32>)
// CHECK: tensor.extract %[[P]]
// CHECK: tensor.insert
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[W]] : tensor<?x2xf32>)
// CHECK: tensor.extract %[[INV]]
// CHECK: tensor.extract %[[ROWS]]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<?x64xf32>)
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @combine(%rows: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) -> tensor<?x64xbf16> {
  %0 = moe.combine %rows, %p weights %w {top_k = 2} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// Without weights every row counts once (a tensor of ones stands in).
// CHECK-LABEL: func.func @combine_unweighted(
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: linalg.fill ins(%[[ONE]] : f32) {{.*}} -> tensor<?x1xf32>
func.func @combine_unweighted(%rows: tensor<?x64xf32>, %p: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = moe.combine %rows, %p {top_k = 1} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// Shared expert with a sigmoid gate: a [T, 1] GEMM with the gate, its sigmoid
// scaling every column.
// CHECK-LABEL: func.func @shared_gated(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xbf16>, %[[GU:.*]]: tensor<96x64xbf16>, %[[D:.*]]: tensor<64x48xbf16>, %[[G:.*]]: tensor<1x64xbf16>)
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[GU]] : tensor<?x64xbf16>, tensor<96x64xbf16>)
// CHECK: %[[LOGIT:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[G]] : tensor<?x64xbf16>, tensor<1x64xbf16>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[LOGIT]] : tensor<?x64xf32>, tensor<?x1xf32>)
// CHECK: math.exp
// CHECK: return {{.*}} : tensor<?x64xf32>
func.func @shared_gated(%x: tensor<?x64xbf16>, %gu: tensor<96x64xbf16>, %d: tensor<64x48xbf16>, %g: tensor<1x64xbf16>) -> tensor<?x64xf32> {
  %0 = moe.shared_expert %x, %gu, %d gate %g ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<96x64xbf16>, tensor<64x48xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
