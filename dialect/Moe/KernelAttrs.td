//===- KernelAttrs.td - typed contracts of the kernel passes -*- tablegen -*-===//
//
// What one kernel pass hands the next, typed and verified where it is
// defined: the tile configuration (moe-select-tiles -> moe-form-kernels)
// and the kernel ABI (moe-outline-kernels -> moe-distribute-threads ->
// moe-kernels-to-gpu -> the manifest writer). Sizes that depend on the token
// count are AffineMaps over one dimension, T; the manifest's formula text is
// printed from them only at emission (include/moe/Dialect/KernelAttrs.h).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_KERNEL_ATTRS_TD
#define MOE_KERNEL_ATTRS_TD

include "dialect/Moe/MoeDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Moe_OptionalSize<string desc>
    : OptionalParameter<"std::optional<int64_t>", desc>;

// A flag written `true` or `false`, absent when false.
class Moe_FlagParameter<string desc>
    : DefaultValuedParameter<"bool", "false", desc> {
  let parser = [{ [&]() -> ::mlir::FailureOr<bool> {
    if (::mlir::succeeded($_parser.parseOptionalKeyword("true")))
      return true;
    if (::mlir::succeeded($_parser.parseOptionalKeyword("false")))
      return false;
    $_parser.emitError($_parser.getCurrentLocation(), "expected true or false");
    return ::mlir::failure();
  }() }];
  let printer = [{ $_printer << ($_self ? "true" : "false") }];
}

def Moe_TilesAttr : Moe_Attr<"Tiles", "tiles"> {
  let summary = "tile sizes, warps and stages of one layer's kernel form";
  let description = [{
    Written by `moe-select-tiles` on a layer's `moe.combine` (as its
    `moe.tiles`), read by `moe-form-kernels`. A missing entry keeps the
    pass option's (or, for warps and stages, the pass's own) default; a
    missing `shared_*` entry, the routed GEMMs' (`expert_rows`,
    `gate_up_columns`, ...).
    Every entry is positive; warps are at most 32 (1024 threads), stages at
    most 8 (the staging pipeline is unrolled by them), launches 3 (the
    combine runs in down's blocks) or 4. `cpu_lanes` (a power of two up to
    64) selects the CPU form of the expert GEMMs, vectors of that many f32
    partial sums per output, and one thread per block; `cpu_bf16_dot` (1)
    its bf16 GEMMs in AVX512-BF16's pair dot products.
  }];
  let parameters = (ins
    Moe_OptionalSize<"tokens per block of the router and route kernels">:$route_tokens,
    Moe_OptionalSize<"experts per block of the router kernel">:$router_experts,
    Moe_OptionalSize<"dispatched rows per block of the expert kernels">:$expert_rows,
    Moe_OptionalSize<"intermediate columns per gate_up block">:$gate_up_columns,
    Moe_OptionalSize<"hidden columns per down block">:$down_columns,
    Moe_OptionalSize<"tokens per combine block">:$combine_tokens,
    Moe_OptionalSize<"warps per gate_up block">:$gate_up_warps,
    Moe_OptionalSize<"warps per down block">:$down_warps,
    Moe_OptionalSize<"staging tiles of gate_up's pipeline">:$gate_up_stages,
    Moe_OptionalSize<"staging tiles of down's pipeline">:$down_stages,
    Moe_OptionalSize<"launches per layer, 3 or 4">:$launches,
    Moe_OptionalSize<"tokens per block of the shared expert's kernels">:$shared_expert_rows,
    Moe_OptionalSize<"intermediate columns per shared_gate_up block">:$shared_gate_up_columns,
    Moe_OptionalSize<"hidden columns per shared_down block">:$shared_down_columns,
    Moe_OptionalSize<"warps per shared_gate_up block">:$shared_gate_up_warps,
    Moe_OptionalSize<"warps per shared_down block">:$shared_down_warps,
    Moe_OptionalSize<"staging tiles of shared_gate_up's pipeline">:$shared_gate_up_stages,
    Moe_OptionalSize<"staging tiles of shared_down's pipeline">:$shared_down_stages,
    Moe_OptionalSize<"f32 lanes of the CPU form's expert GEMMs (the CPU target only)">:$cpu_lanes,
    Moe_OptionalSize<"1: the CPU form's bf16 GEMMs in AVX512-BF16 pair dot products">:$cpu_bf16_dot);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Checks the bound an entry named `key` (a parameter name) must keep;
    /// the verifier and the tuning-file reader both check with it. The
    /// message says what the value must be, after what `emitError` says.
    static ::mlir::LogicalResult verifyEntry(
        ::llvm::function_ref<::mlir::InFlightDiagnostic()> emitError,
        ::llvm::StringRef key, int64_t value);
  }];
}

def Moe_KernelAbiAttr : Moe_Attr<"KernelAbi", "kernel_abi"> {
  let summary = "how a kernel function is launched";
  let description = [{
    Written by `moe-outline-kernels` on each kernel function (as its
    `moe.kernel_abi`): the kernel's name in the manifest, the manifest names
    of its parameters in order (`T` for the token count), and its grid, a
    map from T to the (x, y, z) blocks. `moe-distribute-threads` adds the
    block it shares each block out to and the bytes of dynamic shared
    memory its temporaries take; without them the kernel runs one thread
    and no shared memory.
  }];
  let parameters = (ins
    "::mlir::StringAttr":$kernel,
    "::mlir::ArrayAttr":$params,
    "::mlir::AffineMap":$grid,
    OptionalParameter<"::mlir::DenseI64ArrayAttr",
                      "threads per block in x, y, z">:$block,
    DefaultValuedParameter<"int64_t", "0",
                           "bytes of dynamic shared memory">:$shared_memory);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The block (x, y, z) the kernel is launched with: one thread when
    /// moe-distribute-threads did not share it out.
    std::array<int64_t, 3> getBlockSizes() const;
  }];
}

def Moe_BufferAttr : Moe_Attr<"Buffer", "buffer"> {
  let summary = "one buffer of an outlined layer function";
  let description = [{
    Written by `moe-outline-kernels` in a layer function's `moe.buffers`:
    the buffer's manifest name, its kind (`input`, `weight`, `output` or
    `workspace`), its memref type and its shape as a map from T (one result
    per dimension, equal to the static size where the type has one).
    `zero_init`: the layer zeroes it before its kernels.
  }];
  let parameters = (ins
    "::mlir::StringAttr":$name,
    "::mlir::StringAttr":$kind,
    "::mlir::MemRefType":$type,
    "::mlir::AffineMap":$shape,
    Moe_FlagParameter<"zeroed before the kernels">:$zero_init);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // MOE_KERNEL_ATTRS_TD
