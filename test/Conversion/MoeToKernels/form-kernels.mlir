// RUN: moe-opt %s --moe-prepare --moe-form-kernels -split-input-file | FileCheck %s
// RUN: moe-opt %s --moe-prepare --moe-form-kernels="route-tokens=8 expert-rows=32 gate-up-columns=32 down-columns=16 combine-tokens=4" -split-input-file | FileCheck %s --check-prefix=OPTS

// Mixtral: six kernels, each an scf.forall mapped to blocks. The router
// kernel runs the router GEMM on a tile of 16 tokens by (here all) 8
// experts, 128 threads (its lane-split sums: 16 x 8 x 32 lanes or more);
// the route kernel the gate on the same tokens' logits (row-local, for
// moe-fuse-launches); dispatch is one block
// and also inverts the permutation; gate_up and down walk the flat schedule
// of ceildiv(T * K, 16) + E row blocks times column tiles (128 / 64 and
// 64 / 64); combine sums over k with the inverse, per tile of 16 tokens
// and of down's 64 columns, in one elementwise op with the sum over k in
// its body (no temporaries), marked column-local for moe-fuse-launches.
// CHECK-LABEL: func.func @mixtral(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x64xbf16>, %[[RW:[^:]*]]: tensor<8x64xbf16>, %[[GU:[^:]*]]: tensor<8x256x64xbf16>, %[[D:[^:]*]]: tensor<8x64x128xbf16>)
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x64xbf16>
// CHECK: %[[RB:.*]] = arith.ceildivsi %[[T]], %[[C16]] : index
// CHECK: %[[LOGITS:.*]] = scf.forall (%[[RX:.*]], %[[RY:.*]]) in (%[[RB]], 1) shared_outs({{.*}}) -> (tensor<?x8xf32>) {
// CHECK:   %[[RFIRST:.*]] = arith.muli %[[RX]], %[[C16]]
// CHECK:   %[[RREST:.*]] = arith.subi %[[T]], %[[RFIRST]]
// CHECK:   %[[RCOUNT:.*]] = arith.minsi %[[RREST]], %[[C16]]
// CHECK:   %[[E0:.*]] = arith.muli %[[RY]], %[[C8]]
// CHECK:   %[[XT:.*]] = tensor.extract_slice %[[X]][%[[RFIRST]], 0] [%[[RCOUNT]], 64] [1, 1]
// CHECK:   %[[RWT:.*]] = tensor.extract_slice %[[RW]][%[[E0]], 0] [8, 64] [1, 1]
// CHECK:   %[[LT:.*]] = moe.router %[[XT]], %[[RWT]] : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
// CHECK:   scf.forall.in_parallel {
// CHECK:     tensor.parallel_insert_slice %[[LT]] into %{{.*}}[%[[RFIRST]], %[[E0]]] [%[[RCOUNT]], 8] [1, 1]
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.block_threads = 128 : i64, moe.kernel = "router"}
// CHECK: %[[ROUTE:.*]]:2 = scf.forall (%[[B:.*]]) in (%[[RB]]) shared_outs({{.*}}) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
// CHECK:   %[[FIRST:.*]] = arith.muli %[[B]], %[[C16]]
// CHECK:   %[[REST:.*]] = arith.subi %[[T]], %[[FIRST]]
// CHECK:   %[[COUNT:.*]] = arith.minsi %[[REST]], %[[C16]]
// CHECK:   %[[L:.*]] = tensor.extract_slice %[[LOGITS]][%[[FIRST]], 0] [%[[COUNT]], 8] [1, 1]
// CHECK:   %[[W:.*]], %[[IDS:.*]] = moe.gate %[[L]] routing <scoring = softmax, topK = 2, normalization = sum>
// CHECK:   scf.forall.in_parallel {
// CHECK:     tensor.parallel_insert_slice %[[W]] into %{{.*}}[%[[FIRST]], 0] [%[[COUNT]], 2] [1, 1]
// CHECK:     tensor.parallel_insert_slice %[[IDS]] into %{{.*}}[%[[FIRST]], 0] [%[[COUNT]], 2] [1, 1]
// CHECK: } {mapping = [#gpu.block<x>], moe.kernel = "route", moe.row_local}
// CHECK: %[[R:.*]] = arith.muli %[[T]], %{{.*}} : index
// CHECK: %[[DISPATCH:.*]]:4 = scf.forall (%{{.*}}) in (1) shared_outs({{.*}}) -> (tensor<?xi32>, tensor<9xi32>, tensor<?xi32>, tensor<9xi32>) {
//          The counting sort of the routed rows (buildCountingSort, as
//          dispatch-experts-combine.mlir checks it): 128 chunks sorted
//          each on its own, the offsets and, in the same steps, each
//          expert's first block of 16 rows (a running sum of
//          ceildiv(rows_e, 16)), each of the 8 experts gathering its rows,
//          then the inverse permutation a chunk at a time, each chunk's
//          rows taking the next slots of their experts.
// CHECK:   %[[FLAT:.*]] = tensor.collapse_shape %[[ROUTE]]#1
// CHECK:   %[[SORTED:.*]]:3 = scf.forall (%{{.*}}) in (128) shared_outs
// CHECK:   %[[SUMS:.*]]:2 = scf.for %[[E:.*]] = %c0 to %c8 step %c1 iter_args(%[[OFF:.*]] = %{{.*}}, %[[FIRST:.*]] = %{{.*}}) -> (tensor<9xi32>, tensor<9xi32>) {
// CHECK:     %[[NEXT:.*]] = arith.addi %[[E]], %c1 : index
// CHECK:     %[[TOTAL:.*]] = tensor.extract %{{.*}}[%[[E]]] : tensor<8xi32>
// CHECK:     tensor.insert %{{.*}} into %[[OFF]][%[[NEXT]]] : tensor<9xi32>
// CHECK:     %[[BLOCKS:.*]] = arith.ceildivsi %[[TOTAL]], %c16_i32 : i32
// CHECK:     %[[BEFORE:.*]] = tensor.extract %[[FIRST]][%[[E]]] : tensor<9xi32>
// CHECK:     %[[SUM:.*]] = arith.addi %[[BEFORE]], %[[BLOCKS]] : i32
// CHECK:     tensor.insert %[[SUM]] into %[[FIRST]][%[[NEXT]]] : tensor<9xi32>
// CHECK:   %[[PERM:.*]]:2 = scf.forall (%{{.*}}) in (8) shared_outs
// CHECK:   %[[INV:.*]]:2 = scf.forall (%[[CHUNK:.*]]) in (128) shared_outs(%[[SCRATCH:.*]] = %[[SORTED]]#2, %[[CURSORS:.*]] = %{{.*}})
// CHECK:     tensor.extract %[[PERM]]#1
// CHECK:     scf.for
// CHECK:       tensor.extract %[[FLAT]]
// CHECK:   scf.forall.in_parallel {
// CHECK:     tensor.parallel_insert_slice %[[PERM]]#0 into %{{.*}}[0] [%[[R]]] [1]
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %{{.*}}[0] [9] [1]
// CHECK:     tensor.parallel_insert_slice %[[INV]]#0 into %{{.*}}[0] [%[[R]]] [1]
// CHECK:     tensor.parallel_insert_slice %[[SUMS]]#1 into %{{.*}}[0] [9] [1]
// CHECK: } {mapping = [#gpu.block<x>], moe.kernel = "dispatch"}
// CHECK: %[[RBLK:.*]] = arith.ceildivsi %{{.*}}, %{{.*}} : index
// CHECK: %[[GRID:.*]] = arith.addi %[[RBLK]], %{{.*}} : index
// CHECK: %[[ACT:.*]] = scf.forall (%[[BLK:.*]], %[[COL:.*]]) in (%[[GRID]], 2) shared_outs({{.*}}) -> (tensor<?x128xbf16>) {
//        The expert of this block: the last e with first[e] <= block, a
//        binary search of 3 loads (steps 4, 2, 1, clamped to entry 8, the
//        total), in the blocks below the total only (at decode most are
//        past it); then the expert's offsets and its first block give the
//        block's rows.
// CHECK:   %[[ALL:.*]] = tensor.extract %[[DISPATCH]]#3[%c8] : tensor<9xi32>
// CHECK:   %[[ALLI:.*]] = arith.index_cast %[[ALL]] : i32 to index
// CHECK:   %[[IN:.*]] = arith.cmpi slt, %[[BLK]], %[[ALLI]] : index
// CHECK:   %[[FOUND:.*]]:3 = scf.if %[[IN]] -> (index, index, index) {
// CHECK:     %[[F4:.*]] = tensor.extract %[[DISPATCH]]#3[%c4]
// CHECK:     %[[F4I:.*]] = arith.index_cast %[[F4]]
// CHECK:     %[[T4:.*]] = arith.cmpi sle, %[[F4I]], %[[BLK]] : index
// CHECK:     %[[E4:.*]] = arith.select %[[T4]], %c4, %c0 : index
// CHECK:     %[[P2:.*]] = arith.addi %[[E4]], %c2 : index
// CHECK:     %[[Q2:.*]] = arith.minsi %[[P2]], %c8 : index
// CHECK:     tensor.extract %[[DISPATCH]]#3[%[[Q2]]]
// CHECK:     %[[E2:.*]] = arith.select %{{.*}}, %[[Q2]], %[[E4]] : index
// CHECK:     %[[P1:.*]] = arith.addi %[[E2]], %c1 : index
// CHECK:     %[[Q1:.*]] = arith.minsi %[[P1]], %c8 : index
// CHECK:     tensor.extract %[[DISPATCH]]#3[%[[Q1]]]
// CHECK:     %[[EXPERT:.*]] = arith.select %{{.*}}, %[[Q1]], %[[E2]] : index
// CHECK-NOT: tensor.extract %[[DISPATCH]]#3[%{{.*}}]
// CHECK:     %[[BEGIN:.*]] = tensor.extract %[[DISPATCH]]#1[%[[EXPERT]]]
// CHECK:     %[[BEGINI:.*]] = arith.index_cast %[[BEGIN]]
// CHECK:     %[[EXPERT1:.*]] = arith.addi %[[EXPERT]], %c1 : index
// CHECK:     %[[END:.*]] = tensor.extract %[[DISPATCH]]#1[%[[EXPERT1]]]
// CHECK:     %[[ENDI:.*]] = arith.index_cast %[[END]]
// CHECK:     %[[OWN:.*]] = tensor.extract %[[DISPATCH]]#3[%[[EXPERT]]]
// CHECK:     %[[OWNI:.*]] = arith.index_cast %[[OWN]]
// CHECK:     %[[NTH:.*]] = arith.subi %[[BLK]], %[[OWNI]] : index
// CHECK:     %[[SKIP:.*]] = arith.muli %[[NTH]], %c16 : index
// CHECK:     %[[START:.*]] = arith.addi %[[BEGINI]], %[[SKIP]] : index
// CHECK:     %[[LEFT:.*]] = arith.subi %[[ENDI]], %[[START]] : index
// CHECK:     scf.yield %[[EXPERT]], %[[START]], %[[LEFT]] : index, index, index
// CHECK:   } else {
// CHECK:     scf.yield %c0, %c0, %c0 : index, index, index
// CHECK:   %[[COUNT:.*]] = arith.minsi %[[FOUND]]#2, %c16 : index
//        gate rows c .. c + 64 and up rows 128 + c .. of the expert (static
//        tiles: 64 divides 128) in the tensor-core form: two zero-filled
//        [16, 64] f32 accumulators and a two-stage pipeline over the chunks
//        of 64 of the reduction (one chunk here), empty for an empty block.
//        A stage holds the block's rows and gate's and up's chunks, each in
//        a tile whose rows are padded by 8 elements (no bank conflicts in
//        the fragment loads), staged as asynchronous copies (three groups
//        a stage, so a stage is read with three more in flight): the
//        prologue stages chunk 0 into the first stage; each step of the
//        loop (unrolled by two) stages the next chunk (clamped to the last)
//        into the other stage, then multiplies the current one, the block's
//        rows read through the permutation (past its count the last row
//        again) and shared by both GEMMs, the weights read from the stacked
//        tensor; the unrolled second step multiplies only below the chunk
//        count. Then silu(g) * u over the gate product.
//        The f32 accumulators are [16, 64] slices of tiles whose rows are
//        padded by 8 (no bank conflicts in the C fragments' accesses).
// CHECK:   %[[GTILE:.*]] = bufferization.alloc_tensor() : tensor<16x72xf32>
// CHECK:   %[[GACC:.*]] = tensor.extract_slice %[[GTILE]][0, 0] [16, 64] [1, 1] : tensor<16x72xf32> to tensor<16x64xf32>
// CHECK:   %[[GZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[GACC]] : tensor<16x64xf32>)
// CHECK:   %[[UTILE:.*]] = bufferization.alloc_tensor() : tensor<16x72xf32>
// CHECK:   %[[UACC:.*]] = tensor.extract_slice %[[UTILE]][0, 0] [16, 64] [1, 1]
// CHECK:   %[[UZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[UACC]] : tensor<16x64xf32>)
// CHECK:   %[[ROWS0:.*]] = bufferization.alloc_tensor() : tensor<16x72xbf16>
// CHECK:   %[[GATE0:.*]] = bufferization.alloc_tensor() : tensor<64x72xbf16>
// CHECK:   %[[UP0:.*]] = bufferization.alloc_tensor() : tensor<64x72xbf16>
// CHECK:   %[[ROWS1:.*]] = bufferization.alloc_tensor() : tensor<16x72xbf16>
// CHECK:   %[[GATE1:.*]] = bufferization.alloc_tensor() : tensor<64x72xbf16>
// CHECK:   %[[UP1:.*]] = bufferization.alloc_tensor() : tensor<64x72xbf16>
// CHECK:   %[[SOME:.*]] = arith.cmpi sgt, %[[COUNT:.*]], %{{.*}} : index
// CHECK:   %[[CHUNKS:.*]] = arith.select %[[SOME]], %c1, %c0 : index
// CHECK:   %[[LAST:.*]] = arith.subi %[[CHUNKS]], %c1 : index
// CHECK:   %[[PROLOGUE:.*]]:3 = scf.if %[[SOME]] -> (tensor<16x72xbf16>, tensor<64x72xbf16>, tensor<64x72xbf16>) {
// CHECK:     tensor.extract_slice %[[ROWS0]][0, 0] [16, 64] [1, 1] : tensor<16x72xbf16> to tensor<16x64xbf16>
// CHECK:     linalg.generic {{.*}} outs(%{{.*}} : tensor<16x64xbf16>) attrs = {moe.async_copy = 3 : i64}
// CHECK:     tensor.insert_slice %{{.*}} into %[[ROWS0]][0, 0] [16, 64] [1, 1] : tensor<16x64xbf16> into tensor<16x72xbf16>
// CHECK:     linalg.generic {{.*}} outs(%{{.*}} : tensor<64x64xbf16>) attrs = {moe.async_copy = 3 : i64}
// CHECK:       tensor.extract %[[GU]][%[[FOUND]]#0, %{{.*}}, %{{.*}}] : tensor<8x256x64xbf16>
// CHECK:     tensor.insert_slice %{{.*}} into %[[GATE0]][0, 0] [64, 64] [1, 1] : tensor<64x64xbf16> into tensor<64x72xbf16>
// CHECK:     tensor.insert_slice %{{.*}} into %[[UP0]][0, 0] [64, 64] [1, 1] : tensor<64x64xbf16> into tensor<64x72xbf16>
// CHECK:   } else {
// CHECK:     scf.yield %[[ROWS0]], %[[GATE0]], %[[UP0]]
// CHECK:   %[[PRODUCTS:.*]]:8 = scf.for %[[C:.*]] = %c0 to %[[CHUNKS]] step %c2 iter_args(%[[G:.*]] = %[[GZERO]], %[[U:.*]] = %[[UZERO]], %[[R0:.*]] = %[[PROLOGUE]]#0, %[[GT0:.*]] = %[[PROLOGUE]]#1, %[[UT0:.*]] = %[[PROLOGUE]]#2, %[[R1:.*]] = %[[ROWS1]], %[[GT1:.*]] = %[[GATE1]], %[[UT1:.*]] = %[[UP1]])
// CHECK:     %[[NEXT:.*]] = arith.addi %[[C]], %c1 : index
// CHECK:     %[[CLAMPED:.*]] = arith.minsi %[[NEXT]], %[[LAST]] : index
// CHECK:     %[[NEXTK0:.*]] = arith.muli %[[CLAMPED]], %c64 : index
// CHECK:     tensor.extract_slice %[[R1]][0, 0] [16, 64] [1, 1]
// CHECK:     %[[NEXTROWS:.*]] = linalg.generic {{.*}} attrs = {moe.async_copy = 3 : i64}
// CHECK:       arith.minsi
// CHECK:       arith.addi %[[NEXTK0]]
// CHECK:       tensor.extract %[[DISPATCH]]#0
// CHECK:       tensor.extract %[[X]]
// CHECK:     %[[STAGED1:.*]] = tensor.insert_slice %{{.*}} into %[[R1]]
// CHECK:     tensor.extract_slice %[[GT1]][0, 0] [64, 64] [1, 1]
// CHECK:     %[[NEXTGATE:.*]] = linalg.generic {{.*}} attrs = {moe.async_copy = 3 : i64}
// CHECK:       tensor.extract %[[GU]]
// CHECK:     %[[GSTAGED1:.*]] = tensor.insert_slice %{{.*}} into %[[GT1]]
// CHECK:     %[[NEXTUP:.*]] = linalg.generic {{.*}} attrs = {moe.async_copy = 3 : i64}
// CHECK:     %[[USTAGED1:.*]] = tensor.insert_slice %[[NEXTUP]] into %[[UT1]]
// CHECK:     %[[A0:.*]] = tensor.extract_slice %[[R0]][0, 0] [16, 64] [1, 1] : tensor<16x72xbf16> to tensor<16x64xbf16>
// CHECK:     %[[GCHUNK:.*]] = tensor.extract_slice %[[GT0]][0, 0] [64, 64] [1, 1] : tensor<64x72xbf16> to tensor<64x64xbf16>
// CHECK:     %[[G2:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[A0]], %[[GCHUNK]] : tensor<16x64xbf16>, tensor<64x64xbf16>) outs(%[[G]] : tensor<16x64xf32>) attrs = {moe.tensor_core}
// CHECK:     %[[UCHUNK:.*]] = tensor.extract_slice %[[UT0]][0, 0] [64, 64] [1, 1]
// CHECK:     %[[U2:.*]] = linalg.generic {{.*}} ins(%[[A0]], %[[UCHUNK]] : tensor<16x64xbf16>, tensor<64x64xbf16>) outs(%[[U]] : tensor<16x64xf32>) attrs = {moe.tensor_core}
// CHECK:     %[[STAGED0:.*]] = tensor.insert_slice %{{.*}} into %[[R0]]
// CHECK:     %[[GSTAGED0:.*]] = tensor.insert_slice %{{.*}} into %[[GT0]]
// CHECK:     %[[USTAGED0:.*]] = tensor.insert_slice %{{.*}} into %[[UT0]]
// CHECK:     %[[INRANGE:.*]] = arith.cmpi slt, %{{.*}}, %[[CHUNKS]] : index
// CHECK:     %[[STEP:.*]]:2 = scf.if %[[INRANGE]] -> (tensor<16x64xf32>, tensor<16x64xf32>) {
// CHECK:       linalg.generic {{.*}} ins(%[[NEXTROWS]], %[[NEXTGATE]] : tensor<16x64xbf16>, tensor<64x64xbf16>) outs(%[[G2]] : tensor<16x64xf32>) attrs = {moe.tensor_core}
// CHECK:       linalg.generic {{.*}} ins(%[[NEXTROWS]], %[[NEXTUP]] : tensor<16x64xbf16>, tensor<64x64xbf16>) outs(%[[U2]] : tensor<16x64xf32>) attrs = {moe.tensor_core}
// CHECK:     } else {
// CHECK:       scf.yield %[[G2]], %[[U2]]
// CHECK:     scf.yield %[[STEP]]#0, %[[STEP]]#1, %[[STAGED0]], %[[GSTAGED0]], %[[USTAGED0]], %[[STAGED1]], %[[GSTAGED1]], %[[USTAGED1]]
// CHECK:   %[[GATE:.*]] = tensor.extract_slice %[[PRODUCTS]]#0[0, 0] [%[[COUNT]], %{{.*}}] [1, 1] : tensor<16x64xf32> to tensor<?x?xf32>
// CHECK:   %[[UP:.*]] = tensor.extract_slice %[[PRODUCTS]]#1[0, 0] [%[[COUNT]], %{{.*}}] [1, 1] : tensor<16x64xf32> to tensor<?x?xf32>
// CHECK:   linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x?xf32>, tensor<?x?xf32>) outs(%[[GATE]] : tensor<?x?xf32>)
// CHECK:     math.exp
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK:   scf.forall.in_parallel {
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %{{.*}} : tensor<?x?xbf16> into tensor<?x128xbf16>
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 64 : i64, moe.kernel = "gate_up"}
//        down: the activated rows, staged in bf16, times the expert's down
//        rows in the tensor-core form, then copied (by all threads) into
//        the output tile.
// CHECK: %[[ROWS:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 1) shared_outs({{.*}}) -> (tensor<?x64xf32>) {
// CHECK:   scf.for
// CHECK:     linalg.generic
// CHECK:       tensor.extract %[[ACT]]
// CHECK:     linalg.generic
// CHECK:       tensor.extract %[[D]][%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x64x128xbf16>
// CHECK:     linalg.generic {{.*}} attrs = {moe.tensor_core}
// CHECK:   %[[PRODUCT:.*]] = tensor.extract_slice %{{.*}}#0[0, 0] [%{{.*}}, %{{.*}}] [1, 1] : tensor<16x64xf32> to tensor<?x?xf32>
// CHECK:   linalg.generic {{.*}} ins(%[[PRODUCT]] : tensor<?x?xf32>)
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_tile = 64 : i64, moe.kernel = "down"}
// CHECK: %[[OUT:.*]] = scf.forall (%[[CT:.*]], %[[CC:.*]]) in (%{{.*}}, 1) shared_outs({{.*}}) -> (tensor<?x64xbf16>) {
// CHECK:   %[[CFIRST:.*]] = arith.muli %[[CT]], %[[C16]]
// CHECK:   %[[CCOL:.*]] = arith.muli %[[CC]], %{{.*}}
// CHECK:   %[[TILE:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<?x?xbf16>) {
// CHECK:     %[[TOK:.*]] = arith.addi %[[CFIRST]], %{{.*}}
// CHECK:     %[[COLUMN:.*]] = arith.addi %[[CCOL]], %{{.*}}
// CHECK:     %[[SUM:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32) {
// CHECK:       %[[ROW:.*]] = tensor.extract %[[DISPATCH]]#2
// CHECK:       %[[ROWI:.*]] = arith.index_cast %[[ROW]]
// CHECK:       %[[V:.*]] = tensor.extract %[[ROWS]][%[[ROWI]], %[[COLUMN]]]
// CHECK:       %[[W:.*]] = tensor.extract %[[ROUTE]]#0[%[[TOK]], %[[K]]]
// CHECK:       %[[WV:.*]] = arith.mulf %[[W]], %[[V]]
// CHECK:       %[[NEXT:.*]] = arith.addf %[[ACC]], %[[WV]]
// CHECK:       scf.yield %[[NEXT]]
// CHECK:     arith.truncf %[[SUM]] : f32 to bf16
// CHECK:   tensor.parallel_insert_slice %[[TILE]] into %{{.*}}[%[[CFIRST]], %[[CCOL]]]
// CHECK: } {mapping = [#gpu.block<x>, #gpu.block<y>], moe.column_local, moe.kernel = "combine"}
// CHECK: return %[[OUT]]
// CHECK-NOT: moe.combine
// CHECK-NOT: moe.experts

// Tiles from the options; down's 16 columns are not a multiple of 32: no
// tensor cores there. gate_up's blocks of 32 rows multiply the rows they
// have rounded up to whole mma.sync tiles of 16 (min(ceildiv(count, 16),
// 2) * 16): the accumulators are those rows of [32, 32] tiles, and each
// product takes those rows of the staged [32, 64 + 8] tile.
// OPTS-LABEL: func.func @mixtral(
// OPTS: arith.constant 8 : index
// OPTS: moe.kernel = "route"
// OPTS: moe.kernel = "dispatch"
// OPTS: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 4)
// OPTS: %[[TILES16:.*]] = arith.ceildivui %[[COUNT:.*]], %c16
// OPTS: %[[TILES:.*]] = arith.minsi %[[TILES16]], %c2
// OPTS: %[[USED:.*]] = arith.muli %[[TILES]], %c16
// OPTS: %[[GACC:.*]] = bufferization.alloc_tensor() : tensor<32x40xf32>
// OPTS: %[[GUSED:.*]] = tensor.extract_slice %[[GACC]][0, 0] [%[[USED]], 32] [1, 1] : tensor<32x40xf32> to tensor<?x32xf32>
// OPTS: linalg.fill ins(%{{.*}} : f32) outs(%[[GUSED]] : tensor<?x32xf32>)
// OPTS: scf.for {{.*}} -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<32x72xbf16>
// OPTS: %[[ROWS:.*]] = tensor.extract_slice %{{.*}}[0, 0] [%[[USED]], 64] [1, 1] : tensor<32x72xbf16> to tensor<?x64xbf16>
// OPTS: linalg.generic {{.*}} ins(%[[ROWS]], %{{.*}} : tensor<?x64xbf16>, tensor<32x64xbf16>) outs(%{{.*}} : tensor<?x32xf32>) attrs = {moe.tensor_core}
// OPTS: moe.kernel = "gate_up"
// OPTS: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 4)
// OPTS-NOT: moe.tensor_core
// OPTS: moe.kernel = "down"
// OPTS: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 4)
// OPTS: arith.muli %{{.*}}, %c4
// OPTS: arith.muli %{{.*}}, %c16
// OPTS: moe.kernel = "combine"
func.func @mixtral(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// -----

// DeepSeek-style: a static token count (the kernels still take it as a
// size, the result is cast back), correction bias, and the shared expert
// in kernels of its own: one expert over the tokens in order (no
// permutation read, ceildiv(T, rows) row blocks), its f32 rows added in
// the combine kernel.
// CHECK-LABEL: func.func @deepseek(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x64xf32>, %[[RW:[^:]*]]: tensor<16x64xf32>, %[[CB:[^:]*]]: tensor<16xf32>, %{{[^:]*}}: tensor<16x64x64xf32>, %{{[^:]*}}: tensor<16x64x32xf32>, %[[SGU:[^:]*]]: tensor<128x64xf32>, %[[SD:[^:]*]]: tensor<64x64xf32>)
// CHECK: scf.forall (%{{.*}}) in (%{{.*}}) shared_outs({{.*}}) -> (tensor<?x4xf32>, tensor<?x4xi32>)
// CHECK:   moe.gate %{{.*}} correction_bias %[[CB]] routing <scoring = sigmoid, topK = 4
// CHECK: moe.kernel = "route"
// CHECK: moe.kernel = "dispatch"
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 1) shared_outs({{.*}}) -> (tensor<?x32xf32>)
// CHECK:   arith.divui %{{.*}}, %c4
// CHECK: moe.kernel = "gate_up"
// CHECK: %[[ROWBLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c16
// CHECK: %[[SHACT:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (%[[ROWBLOCKS]], 1) shared_outs({{.*}}) -> (tensor<?x64xf32>)
// CHECK-NOT: arith.divui
// CHECK:   tensor.extract_slice %[[SGU]][
// CHECK: moe.kernel = "shared_gate_up"
// CHECK: %[[SHARED:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 1) shared_outs({{.*}}) -> (tensor<?x64xf32>)
// CHECK:   tensor.extract_slice %[[SHACT]][
// CHECK:   tensor.extract_slice %[[SD]][
// CHECK: moe.kernel = "shared_down"
// CHECK: moe.kernel = "down"
// CHECK: %[[OUT:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 1) shared_outs({{.*}}) -> (tensor<?x64xf32>)
// CHECK-NOT: moe.shared_expert
// CHECK:   %[[SLICE:.*]] = tensor.extract_slice %[[SHARED]]
// CHECK:   linalg.generic {{.*}} ins(%[[SLICE]] : tensor<?x?xf32>)
// CHECK:   ^bb0(%[[S:.*]]: f32, %{{.*}}: f32):
// CHECK:     %[[ROUTED:.*]] = scf.for
// CHECK:     %[[ADDED:.*]] = arith.addf %[[ROUTED]], %[[S]] : f32
// CHECK:     linalg.yield %[[ADDED]] : f32
// CHECK: moe.kernel = "combine"
// CHECK: %[[CAST:.*]] = tensor.cast %[[OUT]] : tensor<?x64xf32> to tensor<4x64xf32>
// CHECK: return %[[CAST]] : tensor<4x64xf32>
func.func @deepseek(%x: tensor<4x64xf32>, %rw: tensor<16x64xf32>, %cb: tensor<16xf32>, %gu: tensor<16x64x64xf32>, %d: tensor<16x64x32xf32>, %sgu: tensor<128x64xf32>, %sd: tensor<64x64xf32>) -> tensor<4x64xf32> {
  %0 = moe.layer %x, %rw correction_bias %cb experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid, topK = 4, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum, scalingFactor = 2.5> ffn <activation = silu_glu> : (tensor<4x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64x64xf32>, tensor<16x64x32xf32>, tensor<128x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// Qwen2-MoE: a gated shared expert. Route computes the gate's logit
// ([T, 1], f32) beside the routing; the combine scales shared_down's row
// by its sigmoid.
// CHECK-LABEL: func.func @qwen2_shared_gate(
// CHECK-SAME: %{{[^:]*}}: tensor<?x64xbf16>, %{{[^:]*}}: tensor<4x64xbf16>, %{{[^:]*}}: tensor<4x64x64xbf16>, %{{[^:]*}}: tensor<4x64x32xbf16>, %{{[^:]*}}: tensor<128x64xbf16>, %{{[^:]*}}: tensor<64x64xbf16>, %[[SG:[^:]*]]: tensor<1x64xbf16>)
// CHECK: %[[ROUTE:.*]]:3 = scf.forall (%{{.*}}) in (%{{.*}}) shared_outs({{.*}}) -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x1xf32>)
// CHECK:   %[[LOGIT:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[SG]] : tensor<?x64xbf16>, tensor<1x64xbf16>) outs(%{{.*}} : tensor<?x1xf32>)
// CHECK:   tensor.parallel_insert_slice %[[LOGIT]] into
// CHECK: moe.kernel = "route"
// CHECK: moe.kernel = "shared_down"
// CHECK: moe.kernel = "down"
// CHECK: scf.forall
// CHECK:   linalg.generic
// CHECK:   ^bb0(%[[S:.*]]: f32, %{{.*}}: bf16):
// CHECK:     %[[L:.*]] = tensor.extract %[[ROUTE]]#2[%{{.*}}, %c0] : tensor<?x1xf32>
// CHECK:     %[[NEG:.*]] = arith.negf %[[L]] : f32
// CHECK:     %[[EXP:.*]] = math.exp %[[NEG]] : f32
// CHECK:     %[[DEN:.*]] = arith.addf %[[EXP]], %{{.*}} : f32
// CHECK:     %[[SIG:.*]] = arith.divf %{{.*}}, %[[DEN]] : f32
// CHECK:     %[[GATED:.*]] = arith.mulf %[[S]], %[[SIG]] : f32
// CHECK:     arith.addf %{{.*}}, %[[GATED]] : f32
// CHECK: moe.kernel = "combine"
func.func @qwen2_shared_gate(%x: tensor<?x64xbf16>, %rw: tensor<4x64xbf16>, %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>, %sgu: tensor<128x64xbf16>, %sd: tensor<64x64xbf16>, %sg: tensor<1x64xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd, gate %sg) routing <scoring = softmax, topK = 2> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<128x64xbf16>, tensor<64x64xbf16>, tensor<1x64xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// -----

// Llama 4: the routing weight scales the gathered rows in gate_up (not
// the shared expert's); the combine sums unweighted.
// CHECK-LABEL: func.func @llama4(
// CHECK: %[[ROUTE:.*]]:2 = scf.forall
// CHECK: moe.kernel = "route"
// CHECK: scf.forall
// CHECK:   linalg.generic
// CHECK:     %[[V:.*]] = arith.extf
// CHECK:     %[[S:.*]] = tensor.extract %[[ROUTE]]#0
// CHECK:     arith.mulf %[[V]], %[[S]]
// CHECK: moe.kernel = "gate_up"
// CHECK: scf.forall
// CHECK-NOT: tensor.extract %[[ROUTE]]#0
// CHECK: moe.kernel = "shared_gate_up"
// CHECK: moe.kernel = "shared_down"
// CHECK: moe.kernel = "down"
// CHECK: scf.forall
// CHECK-NOT: tensor.extract %[[ROUTE]]#0
// CHECK:   linalg.generic
// CHECK:     scf.for
// CHECK-NOT: arith.mulf
// CHECK:       scf.yield
// CHECK:     %[[SUM:.*]] = arith.addf
// CHECK:     arith.truncf %[[SUM]] : f32 to bf16
// CHECK: moe.kernel = "combine"
// With 32-column tiles gate_up takes the tensor-core form: each block
// reads its rows' tokens and routing weights once into [32] tiles (when
// it has rows), and the scaled rows are staged from them rounded to bf16
// (computed, so not a moe.async_copy); only the two weights' staging
// copies count in the groups left in flight (2 per stage, one stage
// ahead).
// OPTS-LABEL: func.func @llama4(
// OPTS: %[[ROUTE:.*]]:2 = scf.forall
// OPTS: moe.kernel = "dispatch"
// OPTS: %[[TOKENS0:.*]] = bufferization.alloc_tensor() : tensor<32xi32>
// OPTS: %[[SCALES0:.*]] = bufferization.alloc_tensor() : tensor<32xf32>
// OPTS: %[[TILES:.*]]:2 = scf.if %{{.*}} -> (tensor<32xi32>, tensor<32xf32>) {
// OPTS:   linalg.generic {{.*}} outs(%[[TOKENS0]], %[[SCALES0]] : tensor<32xi32>, tensor<32xf32>) {
// OPTS:     tensor.extract %[[ROUTE]]#0
// OPTS: } else {
// OPTS:   scf.yield %[[TOKENS0]], %[[SCALES0]]
// OPTS: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x64xbf16>) {
// OPTS-NOT: tensor.extract %[[ROUTE]]#0
// OPTS:   %[[TOKEN:.*]] = tensor.extract %[[TILES]]#0
// OPTS:   %[[ROW:.*]] = arith.index_cast %[[TOKEN]] : i32 to index
// OPTS:   %[[X:.*]] = tensor.extract %arg0[%[[ROW]], %{{.*}}] : tensor<?x64xbf16>
// OPTS:   %[[V:.*]] = arith.extf %[[X]] : bf16 to f32
// OPTS:   %[[S:.*]] = tensor.extract %[[TILES]]#1
// OPTS:   %[[SCALED:.*]] = arith.mulf %[[V]], %[[S]] : f32
// OPTS:   %[[ROUNDED:.*]] = arith.truncf %[[SCALED]] : f32 to bf16
// OPTS:   linalg.yield %[[ROUNDED]] : bf16
// OPTS: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x64xbf16>) attrs =  {moe.async_copy = 2 : i64}
// OPTS: moe.tensor_core
// OPTS: moe.kernel = "gate_up"
func.func @llama4(%x: tensor<?x64xbf16>, %rw: tensor<4x64xbf16>, %gu: tensor<4x64x64xbf16>, %d: tensor<4x64x32xbf16>, %sgu: tensor<64x64xbf16>, %sd: tensor<64x32xbf16>) -> tensor<?x64xbf16> {
  %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = sigmoid_after_topk, topK = 1, placement = input> ffn <activation = silu_glu> : (tensor<?x64xbf16>, tensor<4x64xbf16>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<?x64xbf16>
  return %0 : tensor<?x64xbf16>
}

// -----

// Tile sizes from moe-select-tiles (moe.tiles on the combine) win over the
// pass options.
// CHECK-LABEL: func.func @tiles_attribute(
// CHECK: arith.constant 4 : index
// router_experts = 2: 4 columns of 2 experts each; 4 x 2 x 32 lane sums
// take 128 threads.
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 4)
// CHECK: moe.router %{{.*}}, %{{.*}} : tensor<?x64xbf16>, tensor<2x64xbf16> -> tensor<?x2xf32>
// CHECK: moe.block_threads = 128 : i64, moe.kernel = "router"
// CHECK: moe.kernel = "route"
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 8)
// The warps become moe.block_threads, as many as split the column tile
// into 8-column mma tiles: 8 warps for down's 64 columns, but gate_up's 16
// columns take 4 (the default block).
// CHECK: moe.block_threads = 128 : i64, moe.column_tile = 16 : i64, moe.kernel = "gate_up"
// CHECK: moe.block_threads = 256 : i64, moe.column_tile = 64 : i64, moe.kernel = "down"
// launches = 4: the combine stays a kernel of its own (not column-local).
// CHECK-NOT: moe.column_local
// CHECK: moe.kernel = "combine"
func.func @tiles_attribute(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %logits = moe.router %x, %rw : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %w, %ids = moe.gate %logits routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %perm, %off = moe.dispatch %ids {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %rows = moe.experts %x, %perm, %off, %gu, %d ffn <activation = silu_glu> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xf32>
  %out = moe.combine %rows, %perm weights %w {top_k = 2 : i64, moe.tiles = #moe.tiles<route_tokens = 4, router_experts = 2, gate_up_columns = 16, gate_up_warps = 8, down_columns = 64, down_warps = 8, launches = 4>} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %out : tensor<?x64xbf16>
}

// -----

// Fewer than 4 warps asked for: the most that split the 32 columns into
// 8-column tiles, 2 of 3 (64 threads).
// CHECK-LABEL: func.func @three_warps(
// CHECK: moe.block_threads = 64 : i64, moe.column_tile = 32 : i64, moe.kernel = "gate_up"
func.func @three_warps(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %logits = moe.router %x, %rw : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %w, %ids = moe.gate %logits routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %perm, %off = moe.dispatch %ids {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %rows = moe.experts %x, %perm, %off, %gu, %d ffn <activation = silu_glu> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xf32>
  %out = moe.combine %rows, %perm weights %w {top_k = 2 : i64, moe.tiles = #moe.tiles<gate_up_columns = 32, gate_up_warps = 3>} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %out : tensor<?x64xbf16>
}

// -----

// A combine whose rows do not come from the chain is left alone.
// CHECK-LABEL: func.func @not_a_layer(
// CHECK-NOT: scf.forall
// CHECK: moe.combine
func.func @not_a_layer(%rows: tensor<?x64xf32>, %perm: tensor<?xi32>, %w: tensor<?x2xf32>) -> tensor<?x64xbf16> {
  %out = moe.combine %rows, %perm weights %w {top_k = 2 : i64} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %out : tensor<?x64xbf16>
}

// -----

// The CPU form (moe-select-tiles target=cpu): the router's, gate_up's and
// down's GEMMs are vector loops over the reduction in AVX512-BF16 pair dot
// products (bf16 rows and weights, 16 lanes: 32 elements a step), 4 rows
// by 4 columns of accumulators, summed by halving, on one thread per block.
// The router's blocks take all 8 experts (no lane-split temporary).
// CHECK-LABEL: func.func @cpu_form_bf16_dot(
// CHECK: scf.forall ({{.*}}) in ({{.*}}, 1)
// CHECK: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK: moe.block_threads = 1 : i64, moe.kernel = "router"
// CHECK: scf.for
// CHECK: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK-COUNT-15: x86vector.avx512.dot
// CHECK: arith.addf %{{.*}}, %{{.*}} : vector<1xf32>
// CHECK: moe.block_threads = 1 : i64, moe.column_tile = 64 : i64, moe.kernel = "gate_up"
// CHECK: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK: moe.block_threads = 1 : i64, moe.column_tile = 64 : i64, moe.kernel = "down"
func.func @cpu_form_bf16_dot(%x: tensor<?x64xbf16>, %rw: tensor<8x64xbf16>, %gu: tensor<8x256x64xbf16>, %d: tensor<8x64x128xbf16>) -> tensor<?x64xbf16> {
  %logits = moe.router %x, %rw : tensor<?x64xbf16>, tensor<8x64xbf16> -> tensor<?x8xf32>
  %w, %ids = moe.gate %logits routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %perm, %off = moe.dispatch %ids {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %rows = moe.experts %x, %perm, %off, %gu, %d ffn <activation = silu_glu> {top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<?xi32>, tensor<9xi32>, tensor<8x256x64xbf16>, tensor<8x64x128xbf16>) -> tensor<?x64xf32>
  %out = moe.combine %rows, %perm weights %w {top_k = 2 : i64, moe.tiles = #moe.tiles<expert_rows = 128, gate_up_columns = 64, down_columns = 64, cpu_lanes = 16, cpu_bf16_dot = 1>} : (tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x64xbf16>
  return %out : tensor<?x64xbf16>
}

// -----

// f32 with 8 lanes: each step widens nothing and multiplies and adds apart
// (f32 products are rounded: no contraction), the tail of hidden 60 (not a
// multiple of 8) read masked.
// CHECK-LABEL: func.func @cpu_form_f32(
// CHECK: vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<?x60xf32>, vector<8xf32>
// CHECK-NOT: contract
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_read %{{.*}} : tensor<?x60xf32>, vector<8xf32>
// CHECK: moe.block_threads = 1 : i64, moe.column_tile = 64 : i64, moe.kernel = "gate_up"
func.func @cpu_form_f32(%x: tensor<?x60xf32>, %rw: tensor<8x60xf32>, %gu: tensor<8x256x60xf32>, %d: tensor<8x60x128xf32>) -> tensor<?x60xf32> {
  %logits = moe.router %x, %rw : tensor<?x60xf32>, tensor<8x60xf32> -> tensor<?x8xf32>
  %w, %ids = moe.gate %logits routing <scoring = softmax, topK = 2, normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %perm, %off = moe.dispatch %ids {num_experts = 8 : i64} : tensor<?x2xi32> -> tensor<?xi32>, tensor<9xi32>
  %rows = moe.experts %x, %perm, %off, %gu, %d ffn <activation = silu_glu> {top_k = 2 : i64} : (tensor<?x60xf32>, tensor<?xi32>, tensor<9xi32>, tensor<8x256x60xf32>, tensor<8x60x128xf32>) -> tensor<?x60xf32>
  %out = moe.combine %rows, %perm weights %w {top_k = 2 : i64, moe.tiles = #moe.tiles<gate_up_columns = 64, down_columns = 64, cpu_lanes = 8>} : (tensor<?x60xf32>, tensor<?xi32>, tensor<?x2xf32>) -> tensor<?x60xf32>
  return %out : tensor<?x60xf32>
}
