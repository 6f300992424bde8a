//===- MoeDialect.td - the moe dialect -----------------------*- tablegen -*-===//
//
// The dialect that represents one Mixture-of-Experts block: router, gating,
// dispatch, grouped experts, combine and shared experts.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_TD
#define MOE_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Moe_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Mixture-of-Experts layers: routing, dispatch, experts, combine";
  let description = [{
    The `moe` dialect describes the MoE block of a transformer layer on
    tensors. The token count `T` is a runtime value (a dynamic dimension);
    the hidden size `H`, the expert count `E`, the expert intermediate size
    `I` and `top_k` are compile-time constants.

    Module attributes:
    - `moe.model`: a dictionary with `name`, `source` (the Hugging Face
      `model_type`, or `moe-opt`) and `num_layers`.
    - `moe.layer_map`: a dictionary from the name of a `func.func` that
      computes one MoE layer shape to the decoder layer indices that use it.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral kModelAttrName = "moe.model";
    static constexpr ::llvm::StringLiteral kLayerMapAttrName = "moe.layer_map";
    /// The name of the kernel an scf.forall of the kernel form is.
    static constexpr ::llvm::StringLiteral kKernelAttrName = "moe.kernel";
    /// Tile sizes chosen by moe-select-tiles, on a layer's moe.combine
    /// (a TilesAttr).
    static constexpr ::llvm::StringLiteral kTilesAttrName = "moe.tiles";
    /// On an expert GEMM chunk of the kernel form (moe-form-kernels): a
    /// [16m, n] += [16m, k] x [n, k]^T contraction in bf16/f16 that
    /// moe-distribute-threads shares among warps and moe-kernels-to-gpu
    /// lowers to tensor-core mma.sync.
    static constexpr ::llvm::StringLiteral kTensorCoreAttrName = "moe.tensor_core";
    /// On a staging copy of the kernel form (moe-form-kernels): a
    /// linalg.generic writing a static [rows, columns] block temporary whose
    /// every row is a contiguous run of a row in memory (the body loads
    /// element [.., x + column]), with x and the row strides such that each
    /// 16 bytes of a row start 16-byte aligned. Its value N: nothing reads
    /// the copy before N more marked copies have been made (a pipeline of
    /// N + 1 stages). moe-distribute-threads copies it 16 bytes per thread
    /// (vector.load/vector.store, the store marked too); moe-kernels-to-gpu
    /// turns the marked stores into cp.async and waits until at most N
    /// groups are in flight.
    static constexpr ::llvm::StringLiteral kAsyncCopyAttrName = "moe.async_copy";
    /// On a kernel's block forall (moe-form-kernels, from moe-select-tiles'
    /// warps): the threads of its block, a multiple of 32 up to 1024 (1 in
    /// the CPU form), which moe-distribute-threads uses instead of its
    /// `threads` option.
    static constexpr ::llvm::StringLiteral kBlockThreadsAttrName = "moe.block_threads";
    /// On a kernel's block forall over (x, columns) (moe-form-kernels, the
    /// combine): its block (j, c) reads, of what the kernel launched before
    /// it writes, only what that kernel's blocks (*, c) write. So
    /// moe-fuse-launches may run column c's blocks in the block of column
    /// c that finishes last.
    static constexpr ::llvm::StringLiteral kColumnLocalAttrName = "moe.column_local";
    /// On a kernel's one-dimensional block forall (moe-form-kernels, the
    /// route): its block x reads, of what the kernel launched before it
    /// writes, only what that kernel's blocks (x, *) write, and that kernel
    /// has as many rows. So moe-fuse-launches may run block x in the block
    /// of row x that finishes last.
    static constexpr ::llvm::StringLiteral kRowLocalAttrName = "moe.row_local";
    /// On an expert kernel's block forall over (x, columns) (moe-form-
    /// kernels): the width of its column tiles, so that moe-fuse-launches
    /// knows when two kernels' column c covers the same columns. 0 on a
    /// kernel that moe-fuse-launches put beside another whose tiles differ.
    static constexpr ::llvm::StringLiteral kColumnTileAttrName = "moe.column_tile";
    /// Written by moe-outline-kernels. On a kernel function: its name,
    /// parameter names and grid (a KernelAbiAttr).
    static constexpr ::llvm::StringLiteral kKernelAbiAttrName = "moe.kernel_abi";
    /// On a layer function: its buffers (BufferAttrs), and its kernels in
    /// launch order.
    static constexpr ::llvm::StringLiteral kBuffersAttrName = "moe.buffers";
    static constexpr ::llvm::StringLiteral kLaunchesAttrName = "moe.launches";
  }];
}

class Moe_Op<string mnemonic, list<Trait> traits = []>
    : Op<Moe_Dialect, mnemonic, traits>;

class Moe_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Moe_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // MOE_DIALECT_TD
