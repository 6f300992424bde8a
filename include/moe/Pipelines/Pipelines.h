//===- Pipelines.h - named moe pass pipelines -------------------*- C++ -*-===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::moe {

/// moe-prepare: decompose composite moe.layer ops, canonicalize, CSE.
void buildMoePreparePipeline(OpPassManager &pm);

/// Tile sizes of moe-form-kernels, shared by the pipelines that form
/// kernels.
struct MoeKernelPipelineOptions
    : public PassPipelineOptions<MoeKernelPipelineOptions> {
  ListOption<int64_t> tiles{
      *this, "tiles",
      llvm::cl::desc("moe-form-kernels tile sizes: route-tokens, expert-rows, "
                     "gate-up-columns, down-columns, combine-tokens (all "
                     "five; default: the pass's)")};
  Option<std::string> selectFor{
      *this, "select-tiles-for",
      llvm::cl::desc("Choose the tiles with moe-select-tiles for this chip "
                     "(sm_80, sm_90) unless `tiles` is given")};
  Option<int64_t> tokens{
      *this, "tokens", llvm::cl::init(1),
      llvm::cl::desc("moe-select-tiles: the token count to choose for")};
  Option<std::string> tuningFile{
      *this, "tuning-file",
      llvm::cl::desc("moe-select-tiles: JSON overrides per shape")};
  Option<std::string> cpu{
      *this, "cpu", llvm::cl::init("host"),
      llvm::cl::desc("moe-select-tiles: the CPU of select-tiles-for=cpu "
                     "(host, or an instruction set such as "
                     "x86-64-v4+avx512bf16)")};
  Option<bool> tensorCores{
      *this, "tensor-cores", llvm::cl::init(true),
      llvm::cl::desc("moe-form-kernels' tensor-core form of the bf16/f16 "
                     "expert GEMMs (the GPU kernels')")};
  Option<bool> e4m3TensorCores{
      *this, "e4m3-tensor-cores", llvm::cl::init(false),
      llvm::cl::desc("moe-form-kernels' e4m3 form of w8a8 GEMMs of e4m3 "
                     "weights (kernels for sm_89 or newer)")};
};

/// How moe-select-tiles chooses tiles when none are given.
struct TileSelection {
  std::string target = "sm_90";
  int64_t tokens = 1;
  std::string tuningFile;
  /// target "cpu": host, or an instruction set (moe/Transforms/CpuTarget.h).
  std::string cpu = "host";
};

/// moe-kernel-abi: moe-prepare, moe-select-tiles (with `selection`, unless
/// `tiles` gives all five sizes), moe-form-kernels, convert-moe-to-linalg,
/// One-Shot Bufferize, buffer deallocation and moe-outline-kernels: the
/// kernel functions with the manifest's ABI, from which the host library
/// and the GPU kernels are both compiled.
void buildMoeKernelAbiPipeline(OpPassManager &pm,
                               llvm::ArrayRef<int64_t> tiles = {},
                               const TileSelection *selection = nullptr,
                               bool tensorCores = true,
                               bool e4m3TensorCores = false);

/// Options of moe-to-llvm-cpu.
struct MoeCpuPipelineOptions
    : public PassPipelineOptions<MoeCpuPipelineOptions> {
  Option<bool> kernelForm{
      *this, "kernel-form",
      llvm::cl::desc("Run the fused and tiled kernel form (moe-form-kernels), "
                     "the one the GPU kernels come from; false runs the "
                     "unfused lowering"),
      llvm::cl::init(true)};
  ListOption<int64_t> tiles{
      *this, "tiles",
      llvm::cl::desc("moe-form-kernels tile sizes: route-tokens, expert-rows, "
                     "gate-up-columns, down-columns, combine-tokens (all "
                     "five; default: the pass's)")};
  Option<bool> tensorCores{
      *this, "tensor-cores", llvm::cl::init(false),
      llvm::cl::desc("With the kernel form, the tensor-core form of the "
                     "bf16/f16 expert GEMMs (the GPU kernels'; its padded "
                     "16-row tiles are slower on the CPU at few tokens)")};
  Option<bool> e4m3TensorCores{
      *this, "e4m3-tensor-cores", llvm::cl::init(false),
      llvm::cl::desc("With tensor-cores, the e4m3 form of w8a8 GEMMs of "
                     "e4m3 weights (the sm_89/sm_90 kernels')")};
  Option<std::string> selectFor{
      *this, "select-tiles-for",
      llvm::cl::desc("With the kernel form, choose the tiles with "
                     "moe-select-tiles for this chip (sm_80, sm_90) unless "
                     "`tiles` is given, as the emitted kernels do")};
  Option<int64_t> tokens{
      *this, "tokens", llvm::cl::init(1),
      llvm::cl::desc("moe-select-tiles: the token count to choose for")};
  Option<std::string> tuningFile{
      *this, "tuning-file",
      llvm::cl::desc("moe-select-tiles: JSON overrides per shape")};
  Option<std::string> cpu{
      *this, "cpu", llvm::cl::init("host"),
      llvm::cl::desc("moe-select-tiles: the CPU of select-tiles-for=cpu "
                     "(host, or an instruction set such as "
                     "x86-64-v4+avx512bf16)")};
  Option<int64_t> threads{
      *this, "threads", llvm::cl::init(1),
      llvm::cl::desc("Host threads that share each kernel's blocks (OpenMP: "
                     "moe-parallel-blocks, convert-scf-to-openmp); 1 runs "
                     "them in order on the calling thread, 0 on OpenMP's "
                     "default (OMP_NUM_THREADS, else every core)")};
  Option<bool> genericAllocation{
      *this, "generic-allocation", llvm::cl::init(false),
      llvm::cl::desc("memref.alloc and dealloc call "
                     "_mlir_memref_to_llvm_alloc/_aligned_alloc/_free, which "
                     "the host supplies (moe-run's JIT: a cache that reuses "
                     "buffers across calls), instead of malloc and free")};
};

/// moe-to-llvm-cpu: moe-kernel-abi (or, with kernel-form=false, the
/// unfused lowering: moe-prepare, convert-moe-to-linalg, One-Shot
/// Bufferize), then buildMoeLoopsToLLVMPipeline.
void buildMoeToLLVMCPUPipeline(OpPassManager &pm,
                               const MoeCpuPipelineOptions &options = {});

/// The kernels' block loops as sequential loops, and everything to the LLVM
/// dialect for the host. `barePointers` passes statically shaped memrefs as
/// bare pointers (the manifest's ABI of the host library's kernels);
/// `genericAllocation` and `threads` are MoeCpuPipelineOptions'.
void buildMoeLoopsToLLVMPipeline(OpPassManager &pm, bool barePointers = false,
                                 bool genericAllocation = false,
                                 int64_t threads = 1);

/// Options of moe-kernels-to-nvvm.
struct MoeNVVMPipelineOptions
    : public PassPipelineOptions<MoeNVVMPipelineOptions> {
  ListOption<std::string> chips{
      *this, "chips",
      llvm::cl::desc("NVVM target chips (default: sm_80, sm_90)")};
};

/// moe-kernels-to-nvvm: moe-kernels-to-gpu, then the kernels' linalg ops
/// as loops and convert-gpu-to-nvvm with bare pointers: the input of
/// gpu-module-to-binary. Runs on moe-kernel-abi's output.
void buildMoeKernelsToNVVMPipeline(OpPassManager &pm,
                                   llvm::ArrayRef<std::string> chips = {});

/// Registers the moe passes and the named pipelines above.
void registerMoePassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_PIPELINES_PIPELINES_H
