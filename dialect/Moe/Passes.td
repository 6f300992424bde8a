//===- Passes.td - moe passes --------------------------------*- tablegen -*-===//

#ifndef MOE_PASSES_TD
#define MOE_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoeDecomposeLayer : Pass<"moe-decompose-layer"> {
  let summary = "Expand moe.layer into router, gate, dispatch, experts, combine";
  let description = [{
    Replaces each composite `moe.layer` by the ops that compute it:
    `moe.router` -> `moe.gate` -> `moe.dispatch` -> `moe.experts` ->
    `moe.combine`, plus `moe.shared_expert` and an `arith.addf` when the layer
    has a shared expert. When the routing weight applies to the input
    (Llama 4), the weights go to `moe.experts` as `row_scale` and
    `moe.combine` sums unweighted.
  }];
  let dependentDialects = ["::mlir::moe::MoeDialect",
                           "::mlir::arith::ArithDialect"];
}

def ConvertMoeToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower moe ops on tensors to linalg, tensor, scf, arith and math";
  let description = [{
    Rewrites every moe op (a `moe.layer` is decomposed first) into upstream
    ops on tensors: GEMMs and elementwise work as `linalg.generic`, top-k as
    argmax reductions, dispatch as a counting sort in `scf.for` loops over
    tensors, the grouped experts as a loop over experts with dynamically
    sized GEMMs. Accumulation is in f32. The result bufferizes with One-Shot
    Bufferize; `moe-to-llvm-cpu` is the whole CPU pipeline.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoeFormKernels : Pass<"moe-form-kernels"> {
  let summary = "Fuse and tile a decomposed moe layer into kernels (scf.forall nests)";
  let description = [{
    Rewrites each decomposed layer (`moe.router` -> `moe.gate` ->
    `moe.dispatch` -> `moe.experts` -> `moe.combine`, with an optional
    `moe.shared_expert` added to the result) into the kernel form: one
    `scf.forall` per kernel over tensors, its iterations mapped to GPU
    blocks (`#gpu.block<x>`, `#gpu.block<y>`) and named by a `moe.kernel`
    attribute:

    - `route`: router GEMM, scoring, top-k and normalization per tile of
      tokens (the logits never leave the tile), and a gated shared
      expert's gate logit (Qwen2-MoE's `shared_expert_gate`);
    - `dispatch`: histogram, prefix offsets, permutation and its inverse,
      and each expert's first row block (the expert kernels' blocks find
      their expert in it by a binary search);
    - `gate_up`: per (row block, column tile), the gathered rows times the
      expert's gate and up rows with the activation as epilogue, so only
      activated values are stored;
    - `shared_gate_up`, `shared_down` (with a shared expert): the same two
      GEMMs for the shared expert, as one expert over every token in order
      (blocks of `ceildiv(T, rows)` tokens), with the routed GEMMs' tiles
      or `moe.tiles`' `shared_*` entries; its weights are streamed by as
      many blocks as the routed experts'. With the routed kernels' column
      tiles and threads, moe-fuse-launches runs them beside those;
    - `down`: per (row block, column tile), the activated rows times the
      expert's down rows (plus bias);
    - `combine`: per tile of tokens and of down's columns, one elementwise
      op whose element is the weighted sum over k in ascending order
      (deterministic, in a register), plus shared_down's row (times the
      sigmoid of its gate logit where gated); no temporaries. Marked `moe.column_local`: moe-fuse-launches runs
      it in down's blocks.

    With `tensor-cores` (the default), when the rows and weights are bf16
    or f16, blocks have a multiple of 16 rows (or 8: the swapped form, the
    tokens as mma.sync's 8-column side), column tiles a multiple of
    32 columns dividing the width, and the reduction a multiple of 16, the
    expert GEMMs take the tensor-core form: a [rows, columns] f32
    accumulator and a loop over chunks of the reduction (64, 32 or 16) that
    stages the block's rows (padded past its row count by repeating its
    last row; those products are dropped) in [rows, chunk] tiles (copies
    marked `moe.async_copy`) and multiplies them by the weights' chunk in
    contractions marked `moe.tensor_core` (gate and up share the staged
    rows). The staging is a software pipeline of S tiles (`moe.tiles`'
    `gate_up_stages`/`down_stages`, 2 without them, fewer where the
    temporaries would pass the shared-memory budget): a prologue stages
    chunks 0 .. S - 2, and each step of the loop (unrolled by S, so that
    each tile is a fixed loop value carried in place) stages chunk
    m + S - 1 (clamped to the last chunk; such copies are not read) before
    multiplying chunk m. An empty block stages and multiplies nothing. Rows
    scaled by their routing weight (`row_scale`, Llama 4) are staged
    rounded to the rows' type, as Hugging Face's bf16 multiply rounds them
    (the scalar form keeps them in f32).
    Biases and the activation are then applied in place.

    With w8a8 (the FFN's `fp8_activation_group`), each block computes its
    rows' per-token group scales, stages their e4m3 values and adds each
    chunk's f32 product, times the scales, to the accumulator. With
    `e4m3-tensor-cores` and weights that are a `moe.dequantize` of e4m3
    values, the staging tiles hold e4m3 (`f8E4M3FN`) rows and the weights'
    stored values (copied, never dequantized), the contractions decode both
    (mma.sync m16n8k32 on the GPU), and the promotion multiplies by the
    weights' block scale too (chunks of 32 or 64; a 16-column chunk takes
    the bf16 tiles). Without this option the same stored values are staged
    in bf16 (exact) for mma.sync m16n8k16. A chunk that does not divide the
    group and the scale block gets no tensor-core form: w8a8 never rounds
    the weights with their scales.

    Row blocks follow a flat schedule: block `b` belongs to the expert whose
    cumulative count of `ceildiv(rows_e, rows)` blocks covers `b`, so the
    grid is `ceildiv(T * K, rows) + E` whatever the routing; blocks past the
    last expert's do nothing. The dispatch writes each expert's first block
    (that cumulative count, E + 1 entries), which a block binary-searches
    for its expert (ceil(log2 E) loads). The inner moe ops (router, gate,
    dispatch) stay moe ops on tiles for `convert-moe-to-linalg`.

    Tile sizes come from the `moe.tiles` (a `#moe.tiles`) on the
    `moe.combine` op (written by `moe-select-tiles`), entry by entry, or the
    pass options; its `gate_up_warps` and `down_warps` become `moe.block_threads` (32 per
    warp) on those kernels. Layers that do not
    have this shape are left alone.
  }];
  let options = [
    Option<"routeTokens", "route-tokens", "int64_t", "16",
           "Tokens per block of the route kernel">,
    Option<"expertRows", "expert-rows", "int64_t", "16",
           "Dispatched rows per block of the expert kernels">,
    Option<"gateUpColumns", "gate-up-columns", "int64_t", "64",
           "Intermediate columns per block of the gate_up kernel">,
    Option<"downColumns", "down-columns", "int64_t", "64",
           "Hidden columns per block of the down kernel">,
    Option<"combineTokens", "combine-tokens", "int64_t", "16",
           "Tokens per block (per step, run in down's blocks) of the combine kernel">,
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "Give the bf16/f16 expert GEMMs the tensor-core form (padded "
           "8- or 16-row tiles; the GPU kernels' form, slower on the CPU)">,
    Option<"e4m3TensorCores", "e4m3-tensor-cores", "bool", "false",
           "With tensor-cores, w8a8 expert GEMMs of e4m3 weights multiply "
           "e4m3 by e4m3 (mma.sync m16n8k32: kernels for sm_89 or newer "
           "only)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::x86vector::X86VectorDialect"];
}

def MoeFuseLaunches : Pass<"moe-fuse-launches", "::mlir::func::FuncOp"> {
  let summary = "Run a kernel in the last finishing blocks of the kernel before it, or two independent kernels side by side";
  let description = [{
    Runs on the bufferized kernel form, before `moe-outline-kernels`. Two
    kernels in a row whose grids are (x) or (x, C) with the same constant
    number of columns C become one launch when the second is one block
    (the `dispatch` kernel's counting sort, after `route`) or marked
    `moe.column_local` (the `combine`, after `down`: its column c reads
    only what down's column c writes). Each block of the first kernel,
    when done, takes a ticket from its column's counter in a `[C]` `i32`
    buffer (`memref.atomic_rmw addi`, by one thread), and the block that
    takes the last ticket of its column (the column's block count minus
    one) runs the second kernel's blocks of that column after it, in
    order of x (a loop when there are several). Every other block of the
    column has finished its writes by then, so the counters replace the
    launch boundary without any block waiting for another (no spin loop,
    nothing that needs the blocks to be resident together). The combine
    stays deterministic: each output element is summed in one order by
    one thread, whichever block runs it.

    The counter is allocated with the layer's buffers and zeroed by a
    `linalg.fill` in the layer function, which `moe-outline-kernels` turns
    into the buffer's `zero_init` (the runtime zeroes it before each run of
    the layer). The merged kernel is named `<first>_<second>`
    (`route_dispatch`, `down_combine`).
    Index arithmetic and allocations between the two kernels move before
    the first; anything else between them keeps them apart. So does a
    column-local second kernel that writes a buffer the first one uses
    (bufferization may give both one buffer when the first's use ends
    before the second writes, which holds only across a launch boundary),
    or one whose writes or buffers it cannot trace. The second
    kernel's temporaries move out of the branch (and its loop), so that
    they stay block temporaries (shared memory on the GPU).

    On the GPU, `moe-kernels-to-gpu` brackets the ticket with
    `nvvm.memory.barrier #nvvm.mem_scope<gpu>` (`__threadfence`): the NVPTX
    backend drops the ordering of an atomic read-modify-write.

    Two kernels in a row over (X1) and (X2), or (X1, C) and (X2, C),
    grids that are independent (neither writes a buffer the other reads or
    writes) and ask for the same threads a block (`moe.block_threads`, or
    neither) run side by side: one kernel over (X1 + X2, C) whose block (x, c) runs
    the first's block (x, c) when x < X1, else the second's (x - X1, c),
    in the two branches of an `scf.if` (the condition is the block's, so
    barriers in a branch stay block-wide). Each branch keeps its
    temporaries at its top, and the branches share shared memory
    (moe-distribute-threads and moe-kernels-to-gpu lay them over each
    other), so both kernels' temporaries must fit it on their own. This
    runs the shared expert's kernels in the routed experts' launches
    (`gate_up_shared_gate_up`, then `shared_down_down`, which takes the
    combine as before: `shared_down_down_combine`), so that their blocks
    fill the multiprocessors the routed experts leave idle at decode, two
    launches fewer. The merged kernel keeps the `moe.column_tile` both
    kernels name, or 0 where their column tiles differ; a column-local
    kernel is then not run in its blocks (a column's blocks would cover
    different columns).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoeOutlineKernels : Pass<"moe-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Outline the bufferized kernel form into kernel functions with the manifest's ABI";
  let description = [{
    Runs on the kernel form after One-Shot Bufferize. Each layer function
    must then consist only of `memref.dim` of its input (the token count
    `T`), index arithmetic on it, allocations, zero fills of allocations
    before the first kernel, the kernels' `scf.forall` loops (named by
    `moe.kernel`), deallocations and the return.

    Each kernel becomes a function `@<layer>_<kernel>` with the bare-pointer
    ABI of docs/kernel-manifest.md: one parameter per buffer it touches
    (static buffers keep their type; a buffer whose shape depends on `T` is
    passed as a rank-0 memref, a pointer to its first element, and recast
    inside from `T`), then `T` as an `index`. The kernel's `scf.forall`
    moves into it unchanged; the index values it captured are recomputed
    from `T`, and its `memref.copy` ops become `linalg.copy` (a kernel calls
    no runtime library). The function carries `moe.kernel_abi`, a
    `#moe.kernel_abi`: the kernel's name, its parameters' names and its
    grid as a map from `T`.

    The layer function keeps the allocations and calls the kernels in
    order, so it computes what it did before. It gains `moe.buffers` (a
    `#moe.buffer` per buffer: name, kind, type and shape as a map from `T`)
    and `moe.launches`. A size the manifest's formula grammar cannot
    express (min, max, a product of two sizes) is an error.
    Buffers are named `hidden_states` (the input), `weight<i>` (the i-th
    weight argument), `output` (the returned allocation) and
    `workspace<i>`. A `linalg.fill` of zero into a whole allocation before
    the first kernel (moe-fuse-launches' ticket counter) stays in the layer
    function and marks the buffer `zero_init` (the runtime zeroes it).
    Anything else the manifest cannot express is an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoeDistributeThreads : Pass<"moe-distribute-threads", "::mlir::ModuleOp"> {
  let summary = "Share each outlined kernel's block work among the block's threads";
  let description = [{
    Runs after `moe-outline-kernels`, on the kernel functions (those with
    `moe.kernel_abi`). A kernel is distributed when every temporary its
    block allocates has a constant bound (the tile sizes) and together they
    fit in `shared-memory` bytes, so that the GPU lowering can place them in
    dynamic shared memory; it then gets `block = [threads, 1, 1]` (or the
    `moe.block_threads` of its block forall: moe-select-tiles' warps for
    the expert kernels) and `shared_memory` (the bytes of its temporaries,
    each 16-byte aligned) in its `moe.kernel_abi`. Otherwise (prefill tiles past the budget, buffers
    sized by the token count) it keeps one thread per block,
    `block = [1, 1, 1]`.

    In a distributed kernel, every structured op (TilingInterface) of the
    block body, also inside its `scf.for`/`scf.if`, moves into an
    `scf.forall (%t) in (threads)` mapped to `#gpu.thread<x>`: thread `%t`
    computes the iterations `%t, %t + threads, ...` of the op's parallel
    loops flattened (the last fastest, so neighbouring threads write
    neighbouring elements), each with all of its reduction loops, as a
    slice of the op (`getTiledImplementation`). An op without a
    parallel loop, or one that may read its output at other elements than
    it writes, a loop or branch without structured ops (run whole), and any
    other op that writes memory, moves into an
    `scf.forall (%t) in (1)` (thread 0). A contraction marked
    `moe.tensor_core` with static [16m, n, k] loops, n a multiple of
    8 * threads / 32 and k of 16 (or [8, n, k], n a multiple of 16 *
    threads / 32: the swapped form), moves instead into an
    `scf.forall (%w) in (threads / 32)` mapped to `#gpu.warp<x>`: warp `%w`
    computes the columns `%w * n / warps ..` of it, all rows and the whole
    reduction. A staging copy marked `moe.async_copy` (a static [rows,
    columns] temporary whose rows are contiguous runs of memory rows) moves
    into a thread forall in 16-byte runs: thread `%t` copies the runs
    `%t, %t + threads, ...` (row-major), each with one `vector.load` and
    one `vector.store` (marked `moe.async_copy` where the run provably
    starts 16-byte aligned: static row strides and offset, and a column
    offset, that are multiples of the run), its body's index arithmetic
    and other loads (the permutation) once per run; one that is not such a
    copy is shared as any op. An `scf.forall` without mapping and outputs
    (the dispatch's scatter, one iteration per expert) is dealt out the
    same way, its iterations cyclically. Index arithmetic and loads stay
    outside and run on every thread. On the CPU the foralls are loops, so
    the CPU tests run this form; moe-kernels-to-gpu turns them into thread
    ids with barriers.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", "128",
           "Threads per block of a distributed kernel">,
    Option<"sharedMemory", "shared-memory", "int64_t",
           "::mlir::moe::kKernelSharedMemoryLimit",
           "Bytes of per-block temporaries a distributed kernel may hold in "
           "dynamic shared memory (sm_80 allows 163 KiB per block; the "
           "tiles are planned within 160 KiB)">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoeParallelBlocks : Pass<"moe-parallel-blocks", "::mlir::ModuleOp"> {
  let summary = "Make each kernel's block loop an scf.parallel, for the host's threads";
  let description = [{
    On the CPU, after `moe-distribute-threads`: the block forall of each
    kernel function (the `scf.forall` mapped to `#gpu.block`, the one
    `moe-outline-kernels` leaves) becomes an `scf.parallel`, which
    `convert-scf-to-openmp` then runs as an OpenMP worksharing loop, a
    kernel's blocks shared among the threads as a GPU shares them among
    its SMs. The thread foralls inside stay (`scf-forall-to-for` makes
    them loops). A kernel's blocks are independent but for
    `moe-fuse-launches`' atomic tickets, whose `memref.atomic_rmw` lowers
    to acquire-release atomics, so the block taking the last ticket sees
    the writes of every block before it, as on the GPU.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def MoeKernelsToGpu : Pass<"moe-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Move the outlined kernel functions into a gpu.module as gpu.func kernels";
  let description = [{
    Runs after `moe-outline-kernels`. Each kernel function (one carrying
    `moe.kernel_abi`) becomes a `gpu.func` kernel of the same name, type
    and attributes in `gpu.module @<module-name>`, whose targets are
    `#nvvm.target` for each chip of `chips`. Its block `scf.forall`
    becomes the kernel body, the iteration indices the block ids it maps
    to; `known_block_size` is the `block` of its `moe.kernel_abi`
    (moe-distribute-threads; 1 thread without it). Each forall mapped to
    `#gpu.thread<x>` becomes its body on the thread ids below its trip
    count, followed by a `gpu.barrier`, and preceded by one unless nothing
    since the last barrier may have read memory. The per-block temporaries
    at the top of a kernel whose sizes have constant bounds become, in a
    kernel of several threads, views of the bound into its dynamic shared
    memory (`gpu.dynamic_shared_memory`, laid out as the `shared_memory` of
    its `moe.kernel_abi` says; seen through `memref.memory_space_cast` so
    that their users keep their types); in a one-thread kernel,
    `memref.alloca` of the bound if at most 32 KiB. The others stay
    `memref.alloc`, which NVVM turns into device malloc. Each forall
    mapped to `#gpu.warp<x>` over all the block's warps becomes its body on
    the warp id (thread id / 32), between barriers as for threads, and the
    `moe.tensor_core` contractions in it become per-lane fragment loads and
    `nvvm.mma.sync` m16n8k16 (f32 accumulators; with 8 rows the weights as
    A and the rows as B, C^T's tiles), or for f8E4M3FN operands
    the call of LLVM's e4m3 mma.sync m16n8k32 intrinsic (every chip must
    then be sm_89 or newer, and the features' PTX version is raised to
    8.4 where it is lower). In a thread forall, each
    16-byte run marked `moe.async_copy` whose destination is a block
    temporary in shared memory becomes `nvgpu.device_async_copy` (cp.async,
    L1 bypassed); each thread then commits its copies as one group and
    waits for it before the barrier. Functions that are not
    kernels are erased, so the module is the device code only.
  }];
  let options = [
    ListOption<"chips", "chips", "std::string",
               "NVVM target chips (default: sm_80, sm_90)">,
    Option<"features", "features", "std::string", "\"+ptx80\"",
           "PTX features of every target">,
    Option<"moduleName", "module-name", "std::string", "\"moe_kernels\"",
           "Name of the gpu.module">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoeSelectTiles : Pass<"moe-select-tiles", "::mlir::ModuleOp"> {
  let summary = "Choose the kernel form's tiles, warps and stages per layer (cost model, tuning file)";
  let description = [{
    For each decomposed layer (its `moe.combine`), writes a `moe.tiles`
    (a `#moe.tiles`) that `moe-form-kernels` reads: `route_tokens`,
    `expert_rows`, `gate_up_columns`, `down_columns`, `combine_tokens`, and
    for the expert GEMM kernels `gate_up_warps`, `down_warps`,
    `gate_up_stages`, `down_stages`. The values come from an analytical
    model of the expert GEMMs on `target` at `tokens` tokens (the regime
    the build is for: decode, 1-64, or prefill, hundreds to thousands; the
    kernels work for any token count) described in docs/tile-selection.md.
    An entry of `tuning-file` whose shape, target and token range match
    overrides the model, key by key. A `moe.tiles` already present is kept.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"sm_90\"",
           "Target the tiles are chosen for: a GPU (sm_80, sm_90) or "
           "cpu (the CPU form of the expert GEMMs with the f32 lanes of "
           "the widest vectors of `cpu`)">,
    Option<"tokens", "tokens", "int64_t", "1",
           "Token count the tiles are chosen for">,
    Option<"tuningFile", "tuning-file", "std::string", "\"\"",
           "JSON file of per-shape overrides (docs/tile-selection.md)">,
    Option<"cpu", "cpu", "std::string", "\"host\"",
           "The CPU of target=cpu: host, or an instruction set the "
           "emitted CPU library is built for (generic, x86-64, x86-64-v2, "
           "x86-64-v3, x86-64-v4, the last with +avx512bf16)">,
  ];
}

def MoeNvvmToEmulator
    : Pass<"moe-nvvm-to-emulator", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Turn a gpu.module lowered to NVVM into host code that calls the SIMT emulator";
  let description = [{
    Runs on `moe-kernels-to-nvvm`'s output, one `gpu.module` at a time, and
    rewrites its device code into LLVM dialect the host can compile, whose
    NVVM operations call moert's SIMT emulator through the contract of
    `runtime/include/moert/moert_emu_abi.h`. `moe-translate --emit-kernels
    --emulator` compiles the result into `<fn>.<chip>.emu.so`.

    - `nvvm.read.ptx.sreg.*` (tid, ntid, ctaid, nctaid in x/y/z, laneid,
      warpid): `MOERT_EMU_SREG`.
    - `nvvm.barrier0` and a plain `nvvm.barrier`: `MOERT_EMU_BARRIER`.
    - `nvvm.mma.sync` m16n8k16 row.col, bf16 or f16 multiplicands, f32
      accumulators, and the call of LLVM's e4m3 m16n8k32 intrinsic
      (`llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32`): the lane's
      registers through memory (entry-block allocas) to
      `MOERT_EMU_MMA_M16N8K16` with the type. Any other `llvm.nvvm.*`
      intrinsic call is an error.
    - `nvvm.cp.async.shared.global`, `commit.group`, `wait.group`:
      `MOERT_EMU_CP_ASYNC`, `_COMMIT`, `_WAIT`.
    - `nvvm.memory.barrier`, `nvvm.fence.sc.cluster`: `MOERT_EMU_FENCE`;
      one is also called before each `llvm.atomicrmw`, `llvm.cmpxchg` and
      `llvm.fence`, which stay.
    - The zero-sized `addr_space = 3` globals (dynamic shared memory):
      `MOERT_EMU_SHARED_BASE`.
    - Before each load, store, atomic and memory intrinsic whose pointer
      may be shared or global memory (not traced back to an `llvm.alloca`
      or `malloc`): `MOERT_EMU_CHECK_ACCESS` with the access's size and
      direction, plus the memory space where the pointer's origin tells.
    - Calls of libdevice's `__nv_<f>`: the C library's `<f>`.
    - `llvm.fptrunc` f32 -> bf16: integer code rounding to nearest even (a
      library call on x86 that older libgcc lacks).

    Every call goes through the table `@__moe_emu_api`, which the runtime
    fills after loading the library; `@__moe_emu_sites` names each
    rewritten operation for the runtime's messages. Each kernel becomes an
    internal function called by `__moe_emu_kernel_<symbol>(void **params)`.
    Any other NVVM operation, libdevice function or static shared memory is
    an error naming it.
  }];
  let options = [
    Option<"chip", "chip", "std::string", "\"\"",
           "Rewrite only gpu.modules with an #nvvm.target of this chip "
           "(default: every gpu.module)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MoeTestMutateNvvm : Pass<"moe-test-mutate-nvvm", "::mlir::ModuleOp"> {
  let summary = "Test only: plant one synchronization or tensor-core bug in NVVM kernels";
  let description = [{
    Mutation tests of the SIMT emulator: each mutation breaks the
    `index`-th (0-based, in walk order) operation of its kind in the
    functions whose name contains `kernel`, in a way the emulator must
    catch or that must change the results.

    - `drop-barrier`: erases an `nvvm.barrier0`.
    - `swap-mma-lanes`: swaps the first two A registers of an
      `nvvm.mma.sync` (rows g and g + 8 of the fragment).
    - `wait-group-off`: `nvvm.cp.async.wait.group N` waits for N + 1.
    - `divergent-barrier`: an `nvvm.barrier0` runs only on even `tid.x`.

    An `index` past the last such operation is an error.
  }];
  let options = [
    Option<"mutation", "mutation", "std::string", "\"\"",
           "drop-barrier, swap-mma-lanes, wait-group-off or divergent-barrier">,
    Option<"index", "index", "int64_t", "0",
           "Which operation of the kind, in walk order (0-based)">,
    Option<"kernel", "kernel", "std::string", "\"\"",
           "Only functions whose name contains this">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

#endif // MOE_PASSES_TD
