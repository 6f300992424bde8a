//===- CompiledLayer.cpp - a MoE layer compiled for the CPU ---------------===//

#include "moe/Runner/CompiledLayer.h"
#include "moe/Import/Import.h"
#include "moe/Pipelines/OptimizeLlvm.h"
#include "moe/Pipelines/Pipelines.h"
#include "moe/Runner/BufferCache.h"
#include "moe/SafeTensors/SafeTensors.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::moe;
namespace st = ::moe::safetensors;
namespace ref = ::moe::ref;

namespace {
/// A ranked memref descriptor as the LLVM lowering passes it: allocated and
/// aligned pointers, offset, sizes, strides (all 64-bit).
struct Descriptor {
  std::vector<int64_t> words;

  Descriptor(void *data, llvm::ArrayRef<int64_t> shape) {
    size_t rank = shape.size();
    words.assign(3 + 2 * rank, 0);
    words[0] = reinterpret_cast<intptr_t>(data);
    words[1] = reinterpret_cast<intptr_t>(data);
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      words[3 + i] = shape[i];
      words[3 + rank + i] = stride;
      stride *= shape[i];
    }
  }
  explicit Descriptor(size_t rank) : words(3 + 2 * rank, 0) {}
  void *allocated() const { return reinterpret_cast<void *>(words[0]); }
  void *aligned() const { return reinterpret_cast<void *>(words[1]); }
  int64_t offset() const { return words[2]; }
};

/// The bytes of `values` in `dtype`.
std::vector<uint8_t> encode(st::DType dtype, llvm::ArrayRef<float> values) {
  return st::makeTensor("", dtype, {static_cast<int64_t>(values.size())},
                        values)
      .data;
}
// The compiled code's allocation functions (the pipeline's
// generic-allocation), with the signatures the memref lowering calls.
void *cacheAllocate(uint64_t bytes) {
  return ::moe::BufferCache::process().allocate(bytes);
}
void *cacheAlignedAllocate(uint64_t alignment, uint64_t bytes) {
  return ::moe::BufferCache::process().allocate(bytes, alignment);
}
void cacheRelease(void *buffer) {
  ::moe::BufferCache::process().release(buffer);
}

/// JIT-compiles `module` (the LLVM dialect) for this CPU, optimized at
/// `optLevel` for its vector width and cost model, not a generic x86-64.
llvm::Expected<std::unique_ptr<ExecutionEngine>>
createHostEngine(ModuleOp module, unsigned optLevel, bool openmp) {
  auto hostBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!hostBuilder)
    return hostBuilder.takeError();
  hostBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto hostMachine = hostBuilder->createTargetMachine();
  if (!hostMachine)
    return hostMachine.takeError();
  // ExecutionEngineOptions::transformer is a function_ref: the callable
  // must be a named object that outlives create(), not a temporary.
  auto optimize =
      [optLevel, machine = hostMachine->get()](llvm::Module *m) -> llvm::Error {
    return optimizeModule(*m, optLevel, machine);
  };
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  // memrefCopy and friends, which the memref lowering may call.
  static const std::string runnerUtils = MOE_MLIR_C_RUNNER_UTILS;
  static const std::string libomp = MOE_LIBOMP;
  llvm::StringRef libraries[] = {runnerUtils, libomp};
  engineOptions.sharedLibPaths =
      llvm::ArrayRef<llvm::StringRef>(libraries).take_front(openmp ? 2 : 1);
  // The engine generates code with the same host machine the optimizer
  // assumed.
  auto codegenMachine = hostBuilder->createTargetMachine();
  if (!codegenMachine)
    return codegenMachine.takeError();
  auto engine = ExecutionEngine::create(module, engineOptions,
                                        std::move(*codegenMachine));
  if (!engine)
    return engine.takeError();
  // The pipeline's generic-allocation functions: the process's BufferCache.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    auto symbol = [](auto *function) {
      return llvm::orc::ExecutorSymbolDef(
          llvm::orc::ExecutorAddr::fromPtr(function),
          llvm::JITSymbolFlags::Exported);
    };
    llvm::orc::SymbolMap symbols;
    symbols[interner("_mlir_memref_to_llvm_alloc")] = symbol(&cacheAllocate);
    symbols[interner("_mlir_memref_to_llvm_aligned_alloc")] =
        symbol(&cacheAlignedAllocate);
    symbols[interner("_mlir_memref_to_llvm_free")] = symbol(&cacheRelease);
    return symbols;
  });
  return engine;
}
} // namespace

llvm::Expected<std::unique_ptr<CompiledLayer>>
CompiledLayer::compile(MLIRContext *context, const ModelDesc &model,
                       const MoeLayerDesc &group,
                       const CpuCompileOptions &options) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  context->appendDialectRegistry(registry);

  // Build a module holding only this layer shape.
  ModelDesc single = model;
  single.moeLayers = {group};
  OwningOpRef<ModuleOp> module = buildModule(single, context);
  auto func = module->lookupSymbol<func::FuncOp>("moe_layer_0");
  if (!func || failed(verify(*module)))
    return llvm::createStringError("moe-run: the layer did not build");
  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(context));

  std::unique_ptr<CompiledLayer> layer(new CompiledLayer());
  layer->functionName = "moe_layer_0";
  layer->dtype = model.dtype;
  layer->hidden = model.hiddenSize;
  for (Type type : func.getArgumentTypes().drop_front()) {
    auto tensor = cast<RankedTensorType>(type);
    layer->weightShapes.emplace_back(tensor.getShape().begin(),
                                     tensor.getShape().end());
    // The model dtype, DeepSeek-V3's f32 correction bias, the quantized
    // weights' values and scales.
    std::optional<st::DType> stored = dtypeOfType(tensor.getElementType());
    if (!stored) {
      std::string name;
      llvm::raw_string_ostream(name) << type;
      return llvm::createStringError("moe-run: no buffer type for " + name);
    }
    layer->weightTypes.push_back(*stored);
  }

  PassManager pm(context);
  MoeCpuPipelineOptions pipelineOptions;
  pipelineOptions.kernelForm = options.kernelForm;
  pipelineOptions.tiles = options.tiles;
  pipelineOptions.tensorCores = options.tensorCores;
  pipelineOptions.e4m3TensorCores = options.e4m3TensorCores;
  pipelineOptions.selectFor = options.selectTilesFor;
  pipelineOptions.tokens = options.tokens;
  pipelineOptions.tuningFile = options.tuningFile;
  pipelineOptions.genericAllocation = true;
  pipelineOptions.threads = options.threads;
  buildMoeToLLVMCPUPipeline(pm, pipelineOptions);
  if (failed(pm.run(*module)))
    return llvm::createStringError("moe-run: lowering the layer failed");

  auto engine =
      createHostEngine(*module, options.optLevel, options.threads > 1);
  if (!engine)
    return engine.takeError();
  layer->engine = std::move(*engine);
  auto entry =
      layer->engine->lookupPacked("_mlir_ciface_" + layer->functionName);
  if (!entry)
    return entry.takeError();
  layer->entry = *entry;
  return layer;
}

llvm::Error
CompiledLayer::setWeights(llvm::ArrayRef<::moe::HostTensor> kernelWeights) {
  if (kernelWeights.size() != weightShapes.size())
    return llvm::createStringError("moe-run: expected %zu weight tensors, got "
                                   "%zu",
                                   weightShapes.size(), kernelWeights.size());
  weightBuffers.clear();
  for (auto [index, tensor] : llvm::enumerate(kernelWeights)) {
    if (tensor.shape != weightShapes[index] ||
        tensor.numElements() != static_cast<int64_t>(tensor.data.size()))
      return llvm::createStringError(
          "moe-run: weight argument %zu has the wrong shape or size", index);
    // Straight into the aligned storage, as makeTensor encodes.
    auto &bytes = weightBuffers.emplace_back(
        tensor.data.size() * st::elementSize(weightTypes[index]));
    for (size_t i = 0; i < tensor.data.size(); ++i)
      ::moe::support::storeFromFloat(weightTypes[index], bytes.data(), i,
                                     tensor.data[i]);
  }
  return llvm::Error::success();
}

llvm::Expected<::moe::HostTensor>
CompiledLayer::run(const ::moe::HostTensor &input) const {
  if (input.shape.size() != 2 || input.shape[1] != hidden ||
      input.numElements() != static_cast<int64_t>(input.data.size()))
    return llvm::createStringError(
        "moe-run: hidden_states must be [tokens, %lld]",
        static_cast<long long>(hidden));
  std::vector<uint8_t> outputBuffer;
  if (llvm::Error error =
          runEncoded(encode(dtype, input.data), input.shape[0], outputBuffer))
    return std::move(error);
  ::moe::HostTensor output;
  output.shape = input.shape;
  output.data =
      st::TensorView{"output", dtype, output.shape, outputBuffer}.toFloats();
  return output;
}

llvm::Error CompiledLayer::runEncoded(llvm::ArrayRef<uint8_t> input,
                                      int64_t tokens,
                                      std::vector<uint8_t> &output) const {
  size_t elementBytes = st::elementSize(dtype);
  if (tokens < 0 ||
      input.size() != static_cast<size_t>(tokens * hidden) * elementBytes)
    return llvm::createStringError(
        "moe-run: hidden_states must be [tokens, %lld] in the model dtype",
        static_cast<long long>(hidden));
  if (weightBuffers.size() != weightShapes.size())
    return llvm::createStringError("moe-run: run() before setWeights()");
  // The descriptors point into the buffers; the compiled code only reads
  // its arguments.
  std::vector<Descriptor> descriptors;
  descriptors.emplace_back(const_cast<uint8_t *>(input.data()),
                           llvm::ArrayRef<int64_t>{tokens, hidden});
  for (auto [index, buffer] : llvm::enumerate(weightBuffers))
    descriptors.emplace_back(const_cast<uint8_t *>(buffer.data()),
                             weightShapes[index]);

  Descriptor result(2);
  std::vector<void *> pointers;
  pointers.push_back(result.words.data());
  for (Descriptor &d : descriptors)
    pointers.push_back(d.words.data());
  std::vector<void *> args;
  for (void *&pointer : pointers)
    args.push_back(&pointer);
  entry(args.data());

  size_t bytes =
      static_cast<size_t>(result.words[3] * result.words[4]) * elementBytes;
  const uint8_t *base = static_cast<const uint8_t *>(result.aligned()) +
                        result.offset() * elementBytes;
  output.assign(base, base + bytes);
  // The compiled code allocated the result buffer; the caller owns it.
  ::moe::BufferCache::process().release(result.allocated());
  return llvm::Error::success();
}
