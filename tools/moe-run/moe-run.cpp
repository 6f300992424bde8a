//===- moe-run.cpp - run one MoE layer on the CPU -------------------------===//
//
// moe-run MODEL.json --layer L --weights W.safetensors --input X.safetensors
//         --output Y.safetensors [--check]
// moe-run MODEL.json --layer L --seed N --tokens T [--check]
//
// Imports the model, compiles the layer's function with the moe-to-llvm-cpu
// pipeline, runs it with MLIR's ExecutionEngine on weights under the model's
// own Hugging Face tensor names (packed into the kernels' layout here), and
// with --check compares the result with the independent fp64 reference.
// With --emitted DIR the layer comes from `moe-translate --emit-kernels DIR`
// instead, run by the moert runtime's CPU backend (or, with --backend
// cuda-emu, its GPU kernels on the SIMT emulator); --target gpu-emulator
// emits the GPU kernels itself and runs them on the emulator.
//
//===----------------------------------------------------------------------===//

#include "CheckOutput.h"
#include "EmittedLayer.h"
#include "InputFile.h"
#include "LayerProfile.h"
#include "ToolVersion.h"

#include "moe/Emit/EmitKernels.h"
#include "moert/moert.h"

#include "moe-support/SafeTensors.h"
#include "moe/Import/Import.h"
#include "moe/Import/LayerSelection.h"
#include "moe/Reference/Reference.h"
#include "moe/Runner/CompiledLayer.h"
#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Weights/HfWeights.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>
#include <optional>

using namespace mlir;
using namespace mlir::moe;
namespace st = ::moe::safetensors;
namespace ref = ::moe::ref;
namespace weights = ::moe::weights;
using ::moe::HostTensor;
using ::moe::TensorMap;

namespace {
/// The tool's own options: --help lists these (and the emulator's), not
/// the ~400 of LLVM's backends linked in.
llvm::cl::OptionCategory runCategory("moe-run options");
llvm::cl::opt<std::string> modelPath(llvm::cl::Positional, llvm::cl::Required,
                                     llvm::cl::desc("<model.json>"),
                                     llvm::cl::cat(runCategory));
llvm::cl::opt<int64_t> layerIndex("layer", llvm::cl::Required,
                                  llvm::cl::desc("decoder layer to run"),
                                  llvm::cl::cat(runCategory));
llvm::cl::opt<std::string>
    weightsPath("weights",
                llvm::cl::desc("the layer's weights (safetensors, "
                               "Hugging Face names and layouts)"),
                llvm::cl::cat(runCategory));
llvm::cl::opt<std::string>
    inputPath("input", llvm::cl::desc("hidden_states [T, H] (safetensors)"),
              llvm::cl::cat(runCategory));
llvm::cl::opt<std::string> outputPath(
    "output",
    llvm::cl::desc("where to write hidden_states [T, H] (safetensors)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<uint64_t>
    seed("seed", llvm::cl::desc("generate random weights and/or input"),
         llvm::cl::cat(runCategory));
llvm::cl::opt<int64_t> tokens("tokens",
                              llvm::cl::desc("token count of a random input"),
                              llvm::cl::cat(runCategory));
llvm::cl::opt<bool>
    check("check",
          llvm::cl::desc("compare with the fp64 reference and fail "
                         "beyond the dtype's tolerance"),
          llvm::cl::cat(runCategory));
llvm::cl::opt<std::string> saveWeights(
    "save-weights",
    llvm::cl::desc("write the weights used (safetensors, HF names)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<std::string> saveInput("save-input",
                                     llvm::cl::desc("write the input used"),
                                     llvm::cl::cat(runCategory));
llvm::cl::opt<double> tieTolerance(
    "tie-tolerance", llvm::cl::init(1e-6),
    llvm::cl::desc("--check skips tokens whose expert choice is decided by a "
                   "score margin below this (0: compare every token; exact "
                   "ties go to the lower expert index in both)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<double> maxWeightGiB(
    "max-weight-gib", llvm::cl::init(8.0),
    llvm::cl::desc("refuse layers whose weights take more memory than this"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<int64_t>
    maxTokens("max-tokens", llvm::cl::init(1 << 20),
              llvm::cl::desc("refuse inputs with more tokens than this"),
              llvm::cl::cat(runCategory));
llvm::cl::opt<bool> unfused(
    "unfused", llvm::cl::init(false),
    llvm::cl::desc("Run the unfused lowering instead of the kernel form "
                   "(the fused, tiled kernels the GPU code comes from)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<std::string> emittedDir(
    "emitted", llvm::cl::value_desc("DIR"),
    llvm::cl::desc("Run the layer emitted by `moe-translate --emit-kernels "
                   "DIR` through the moert runtime's CPU backend instead of "
                   "compiling it"),
    llvm::cl::cat(runCategory));
llvm::cl::list<int64_t> kernelTiles(
    "kernel-tiles", llvm::cl::CommaSeparated,
    llvm::cl::desc("Tile sizes of the kernel form: route tokens, expert rows, "
                   "gate_up columns, down columns, combine tokens (five "
                   "positive numbers; default: moe-select-tiles' choice for "
                   "sm_90 at this token count, as the emitted kernels)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<bool> tensorCores(
    "tensor-cores", llvm::cl::init(true),
    llvm::cl::desc("The kernel form's bf16/f16 expert GEMMs in their "
                   "tensor-core form, as the emitted kernels have them "
                   "(default; =false: the plain tiled form, which compiles "
                   "about 2 s faster and runs faster on the CPU)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<bool> cpuForm(
    "cpu-form", llvm::cl::init(false),
    llvm::cl::desc("The kernel form chosen for this CPU (moe-select-tiles "
                   "target=cpu): vectorized expert GEMMs with this host's "
                   "f32 lanes, tiles for its caches; not the emitted GPU "
                   "kernels' form, and much faster on the CPU"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<int64_t> cpuThreads(
    "cpu-threads", llvm::cl::init(1),
    llvm::cl::desc("Host threads that share each kernel's blocks (OpenMP), "
                   "for the kernel form on --target cpu (default 1: in "
                   "order on one thread)"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<bool> fp8Activations(
    "fp8-activations",
    llvm::cl::desc("fp8 checkpoints: quantize each expert GEMM's input to "
                   "fp8 per token in groups of 128, as the model is served "
                   "(activation_scheme dynamic, w8a8; scales rounded up to "
                   "powers of two where the checkpoint says scale_fmt "
                   "ue8m0). Default: weight-only (w8a16), the dequantized "
                   "weights times the model-dtype activations"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<bool> e4m3TensorCores(
    "e4m3-tensor-cores",
    llvm::cl::desc("With --fp8-activations on the CPU kernel form: the "
                   "expert GEMMs' e4m3 form, as the kernels emitted for "
                   "sm_89/sm_90 alone have it (e4m3 rows times the stored "
                   "e4m3 weights, mma.sync m16n8k32 on the GPU, both scales "
                   "in f32). --target gpu-emulator takes it from --chip"),
    llvm::cl::cat(runCategory));
llvm::cl::opt<unsigned> optLevel("O", llvm::cl::init(3),
                                 llvm::cl::desc("LLVM optimization level"),
                                 llvm::cl::cat(runCategory));

llvm::cl::OptionCategory emulatorCategory(
    "The GPU kernels on the SIMT emulator (--target gpu-emulator, "
    "--backend cuda-emu)");
llvm::cl::opt<std::string> target(
    "target", llvm::cl::init("cpu"), llvm::cl::value_desc("cpu|gpu-emulator"),
    llvm::cl::desc("cpu: compile the layer for the CPU (default); "
                   "gpu-emulator: emit its GPU kernels (moe-translate "
                   "--emit-kernels --emulator, tiles from moe-select-tiles "
                   "for --chip at this token count) and run their NVVM code "
                   "on the SIMT emulator through moert's cuda-emu backend"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<std::string> backendName(
    "backend", llvm::cl::init("cpu"),
    llvm::cl::value_desc("cpu|cpu-portable|cuda-emu"),
    llvm::cl::desc("moert backend of --emitted: the CPU form's library where "
                   "this CPU runs it, else the portable host library (cpu), "
                   "the portable host library alone (cpu-portable), or the "
                   "emulator libraries (cuda-emu)"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<std::string> chip(
    "chip", llvm::cl::value_desc("sm_80|sm_90"),
    llvm::cl::desc("the chip whose kernels the emulator runs (default sm_90 "
                   "for --target gpu-emulator, the highest emitted for "
                   "--emitted)"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<std::string> blockOrder(
    "emulator-block-order", llvm::cl::init("grid"),
    llvm::cl::value_desc("grid|shuffle:SEED"),
    llvm::cl::desc("the order the emulator runs each grid's blocks in"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<int> blocksAtOnce(
    "emulator-blocks-at-once", llvm::cl::init(1),
    llvm::cl::desc("blocks in flight at once, 1 or 2 (interleaved at "
                   "barriers, fences and atomics)"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<bool> emulatorUnchecked(
    "emulator-unchecked",
    llvm::cl::desc("skip the bounds and shared-memory race checks"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<std::string> profilePath(
    "profile", llvm::cl::value_desc("FILE.json"),
    llvm::cl::desc("write what the emulator counted per launch (DRAM "
                   "sectors, coalescing, bank conflicts, mma rows, ...) "
                   "and the layer's roofline estimate "
                   "(docs/emulator-profile.md)"),
    llvm::cl::cat(emulatorCategory));
llvm::cl::opt<unsigned> profileColumnStride(
    "profile-column-stride", llvm::cl::init(1), llvm::cl::value_desc("S"),
    llvm::cl::desc("with --profile: in launches with several columns of "
                   "blocks, run every S-th column only and scale the counts "
                   "to the whole grid, for shapes too large to emulate "
                   "whole (the output is then incomplete: not with --check "
                   "or --output)"),
    llvm::cl::cat(emulatorCategory));
/// The emulator's per-launch profile (JSON), with --profile.
std::string emulatorProfile;
llvm::cl::opt<std::string> tuningFile(
    "tuning-file", llvm::cl::value_desc("FILE.json"),
    llvm::cl::desc("moe-select-tiles overrides per shape (the kernel form "
                   "of --target cpu, and --target gpu-emulator)"),
    llvm::cl::cat(runCategory));

/// What ran, and whether it is the emitted kernels' configuration: the
/// default is, and each option that departs from it is named.
std::string describeLayout(DType dtype, int64_t tokens);

/// What runs, and with --fp8-activations, how the activations are taken.
std::string describeRun(DType dtype, int64_t tokens) {
  std::string text = describeLayout(dtype, tokens);
  // An emitted folder computes what it was compiled for (its manifest's
  // "activations"); the flag then says only what the reference does.
  if (fp8Activations)
    text += emittedDir.empty()
                ? ", fp8 activations per token in groups of 128 (w8a8: "
                  "--fp8-activations)"
                : ", checked against the reference with fp8 activations "
                  "per token in groups of 128 (w8a8: --fp8-activations)";
  return text;
}

std::string describeLayout(DType dtype, int64_t tokens) {
  if (!emittedDir.empty())
    return "the layer emitted in " + emittedDir + " on moert's " + backendName +
           " backend";
  if (target == "gpu-emulator")
    return "the GPU kernels on the SIMT emulator (moert's cuda-emu backend)";
  if (unfused)
    return "the unfused lowering on the CPU (not the emitted kernels' form: "
           "--unfused)";
  if (cpuForm)
    return "the kernel form chosen for this CPU (--cpu-form: vectorized "
           "expert GEMMs, tiles from moe-select-tiles for the CPU; not the "
           "emitted kernels' form)";
  std::string text = "the kernel form on the CPU: ";
  bool floats16 = dtype == DType::BF16 || dtype == DType::F16;
  text += !floats16         ? "f32 expert GEMMs (no tensor-core form)"
          : e4m3TensorCores ? "e4m3 tensor-core expert GEMMs (the sm_89+ "
                              "kernels' form: --e4m3-tensor-cores)"
          : tensorCores     ? "tensor-core expert GEMMs"
                            : "plain expert GEMMs";
  if (kernelTiles.empty())
    text += ", tiles from moe-select-tiles for sm_90 at " +
            std::to_string(tokens) + " tokens";
  else
    text += ", tiles given by --kernel-tiles";
  if (floats16 && !tensorCores)
    text += " (not the emitted kernels' configuration: --tensor-cores=false)";
  else if (!kernelTiles.empty())
    text += " (the emitted kernels' form, with other tiles)";
  else
    text += " (the emitted kernels' configuration)";
  return text;
}

int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-run: error: " << message << "\n";
  return 1;
}
int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// Rounds every value to what `dtype` can hold.
void roundAll(HostTensor &tensor, st::DType dtype) {
  for (float &value : tensor.data)
    value = st::roundTo(dtype, value);
}

/// The name prefix shared by a layer's tensors, up to and including the
/// layer index ("model.layers.3.", "transformer.blocks.3."), or "".
std::string layerPrefixOf(llvm::ArrayRef<weights::TensorSpec> specs) {
  if (specs.empty())
    return "";
  std::string prefix = specs.front().name;
  for (const weights::TensorSpec &spec : specs) {
    size_t common = 0;
    while (common < prefix.size() && common < spec.name.size() &&
           prefix[common] == spec.name[common])
      ++common;
    prefix.resize(common);
  }
  // Cut back to the last '.', so "model.layers.3.mlp.experts.1" and
  // "model.layers.3.mlp.gate" give "model.layers.3.mlp.".
  size_t dot = prefix.rfind('.');
  return dot == std::string::npos ? "" : prefix.substr(0, dot + 1);
}

/// The type each of the layer's checkpoint tensors is stored in.
std::map<std::string, st::DType> storageTypes(const ref::LayerConfig &cfg,
                                              DType dtype) {
  std::map<std::string, st::DType> types;
  for (const weights::TensorSpec &spec : weights::hfTensorSpecs(cfg))
    types[spec.name] = spec.storage.value_or(hfStorageType(spec.name, dtype));
  return types;
}

llvm::Expected<TensorMap> readWeights(const ref::LayerConfig &cfg,
                                      DType dtype) {
  auto file = st::File::open(weightsPath);
  if (!file)
    return file.takeError();
  TensorMap map;
  std::map<std::string, st::DType> types = storageTypes(cfg, dtype);
  // A float tensor stored in another float type is converted, as the
  // Hugging Face loader does (a bf16 e_score_correction_bias of a model
  // saved after .to(bfloat16), an f32 checkpoint of a bf16 config);
  // quantized values and their e8m0 scales must be what the format says.
  std::vector<std::string> converted;
  for (const weights::TensorSpec &spec : weights::hfTensorSpecs(cfg)) {
    const st::TensorView *view = file->find(spec.name);
    if (!view)
      return llvm::createStringError("%s: missing tensor '%s' (%s layer %lld)",
                                     weightsPath.c_str(), spec.name.c_str(),
                                     cfg.family.c_str(),
                                     static_cast<long long>(cfg.layer));
    st::DType expected = types.at(spec.name);
    if (view->dtype != expected &&
        !(::moe::support::isComputeFloat(view->dtype) &&
          ::moe::support::isComputeFloat(expected)))
      return llvm::createStringError("%s: tensor '%s' is %s, expected %s",
                                     weightsPath.c_str(), spec.name.c_str(),
                                     st::dtypeName(view->dtype).str().c_str(),
                                     st::dtypeName(expected).str().c_str());
    HostTensor tensor{view->shape, view->toFloats()};
    if (view->dtype != expected) {
      converted.push_back("'" + spec.name + "' " +
                          st::dtypeName(view->dtype).str() + " -> " +
                          st::dtypeName(expected).str());
      roundAll(tensor, expected);
    }
    map[spec.name] = std::move(tensor);
  }
  if (!converted.empty())
    llvm::errs() << "moe-run: note: " << weightsPath << ": converted "
                 << converted.size() << " tensor"
                 << (converted.size() == 1 ? "" : "s")
                 << " to the configuration's types, as the Hugging Face "
                    "loader does: "
                 << converted.front()
                 << (converted.size() > 1
                         ? " and " + std::to_string(converted.size() - 1) +
                               " more"
                         : "")
                 << "\n";
  // Tensors of this layer that the configuration does not use usually mean
  // the configuration and the checkpoint disagree (a shared expert the
  // config left out, say): worth a warning, not a refusal.
  std::string layerPrefix = layerPrefixOf(weights::hfTensorSpecs(cfg));
  for (const st::TensorView &view : file->tensors())
    if (!layerPrefix.empty() &&
        llvm::StringRef(view.name).starts_with(layerPrefix) &&
        !map.count(view.name))
      llvm::errs() << "moe-run: warning: " << weightsPath << ": tensor '"
                   << view.name
                   << "' is not used by this layer's configuration\n";
  if (llvm::Error error = weights::checkHfWeights(cfg, map))
    return llvm::createStringError("%s: %s", weightsPath.c_str(),
                                   llvm::toString(std::move(error)).c_str());
  return map;
}

/// Reads hidden_states [T, H]; returns it and its storage type.
llvm::Expected<std::pair<HostTensor, st::DType>>
readInput(const ref::LayerConfig &cfg) {
  auto file = st::File::open(inputPath);
  if (!file)
    return file.takeError();
  const st::TensorView *view = file->find("hidden_states");
  if (!view)
    return llvm::createStringError("%s: missing tensor 'hidden_states'",
                                   inputPath.c_str());
  if (view->shape.size() != 2 || view->shape[1] != cfg.hidden)
    return llvm::createStringError("%s: 'hidden_states' must be [tokens, %lld]",
                                   inputPath.c_str(),
                                   static_cast<long long>(cfg.hidden));
  return std::make_pair(HostTensor{view->shape, view->toFloats()}, view->dtype);
}

llvm::Error writeTensors(llvm::StringRef path, const ref::LayerConfig &cfg,
                         const TensorMap &map, DType dtype) {
  std::map<std::string, st::DType> types = storageTypes(cfg, dtype);
  std::vector<st::OwnedTensor> tensors;
  for (const auto &[name, tensor] : map) {
    auto type = types.find(name);
    tensors.push_back(st::makeTensor(
        name, type != types.end() ? type->second : hfStorageType(name, dtype),
        tensor.shape, tensor.data));
  }
  return st::write(path, tensors);
}

/// The layer compiled here (moe-to-llvm-cpu) and run by the
/// ExecutionEngine.
llvm::Expected<HostTensor>
runCompiled(MLIRContext &context, const ModelDesc &model,
            const MoeLayerDesc &group, const ref::LayerConfig &cfg,
            const TensorMap &hfWeights, const HostTensor &input) {
  auto packed = weights::packForKernels(cfg, hfWeights);
  if (!packed)
    return packed.takeError();
  // By default the emitted kernels' configuration: the tensor-core form and
  // the tiles moe-select-tiles chooses for sm_90 at this token count.
  CpuCompileOptions options;
  options.optLevel = optLevel;
  options.kernelForm = !unfused;
  options.tensorCores = tensorCores && !unfused;
  options.e4m3TensorCores = e4m3TensorCores;
  options.tiles.assign(kernelTiles.begin(), kernelTiles.end());
  options.tokens =
      input.shape.empty() ? 1 : std::max<int64_t>(1, input.shape[0]);
  options.tuningFile = tuningFile;
  if (cpuForm)
    options.selectTilesFor = "cpu";
  options.threads = cpuThreads;
  auto layer = CompiledLayer::compile(&context, model, group, options);
  if (!layer)
    return layer.takeError();
  if (llvm::Error e = (*layer)->setWeights(*packed))
    return std::move(e);
  return (*layer)->run(input);
}

/// The function of the model's imported module that computes layerIndex.
llvm::Expected<std::string> layerFunction(ModuleOp module) {
  if (module)
    if (auto map = module->getAttrOfType<DictionaryAttr>(
            MoeDialect::kLayerMapAttrName))
      for (NamedAttribute entry : map)
        if (auto layers = dyn_cast<DenseI64ArrayAttr>(entry.getValue()))
          if (llvm::is_contained(layers.asArrayRef(), layerIndex.getValue()))
            return entry.getName().str();
  return llvm::createStringError("no layer function computes layer " +
                                 llvm::Twine(layerIndex));
}

/// --emulator-block-order and friends, checked.
llvm::Expected<::moe::EmittedBackend> emulatedBackend() {
  ::moe::EmittedBackend backend;
  backend.backend = MOERT_BACKEND_CUDA_EMU;
  backend.chip = chip;
  llvm::StringRef order = blockOrder;
  if (order.consume_front("shuffle:")) {
    if (order.getAsInteger(10, backend.shuffleSeed) || !backend.shuffleSeed)
      return llvm::createStringError(
          "--emulator-block-order=shuffle:SEED takes a positive seed");
  } else if (order != "grid") {
    return llvm::createStringError(
        "--emulator-block-order is grid or shuffle:SEED, not '" + order + "'");
  }
  if (blocksAtOnce != 1 && blocksAtOnce != 2)
    return llvm::createStringError("--emulator-blocks-at-once is 1 or 2");
  backend.blocksAtOnce = blocksAtOnce;
  backend.unchecked = emulatorUnchecked;
  if (!profilePath.empty())
    backend.profileOut = &emulatorProfile;
  if (profileColumnStride == 0)
    return llvm::createStringError("--profile-column-stride is at least 1");
  if (profileColumnStride > 1 &&
      (profilePath.empty() || check || !outputPath.empty()))
    return llvm::createStringError(
        "--profile-column-stride runs part of each grid: it needs --profile "
        "and leaves the output incomplete (no --check or --output)");
  backend.columnStride = profileColumnStride;
  // Long emulator runs show how far they are on a terminal, never in logs.
  backend.progress = llvm::errs().is_displayed();
  return backend;
}

/// The layer of DIR (--emit-kernels' output), run by moert on weights
/// written to a temporary safetensors file (moert packs them itself from
/// the manifest).
llvm::Expected<HostTensor> runEmitted(llvm::StringRef dir, ModuleOp module,
                                      const ref::LayerConfig &cfg, DType dtype,
                                      const TensorMap &hfWeights,
                                      const HostTensor &input, st::DType ioType,
                                      const ::moe::EmittedBackend &backend) {
  auto function = layerFunction(module);
  if (!function)
    return function.takeError();
  std::string weightsFile = weightsPath;
  llvm::SmallString<128> temporary;
  if (weightsFile.empty()) {
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "moe-run-weights", "safetensors", temporary))
      return llvm::createStringError(ec, "a temporary weights file");
    if (llvm::Error e = writeTensors(temporary, cfg, hfWeights, dtype))
      return std::move(e);
    weightsFile = temporary.str().str();
  }
  auto output = ::moe::runEmittedLayer(dir, *function, weightsFile, layerIndex,
                                       input, ioType, backend, llvm::outs());
  if (!temporary.empty())
    llvm::sys::fs::remove(temporary);
  return output;
}

/// --target gpu-emulator: the layer's GPU kernels for --chip, emitted into
/// a temporary folder with their emulator library and run on cuda-emu.
llvm::Expected<HostTensor>
runOnEmulator(MLIRContext &context, const ModelDesc &model,
              const ref::LayerConfig &cfg, DType dtype,
              const TensorMap &hfWeights, const HostTensor &input,
              st::DType ioType) {
  auto backend = emulatedBackend();
  if (!backend)
    return backend.takeError();
  if (backend->chip.empty())
    backend->chip = "sm_90";
  llvm::SmallString<128> scratch;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("moe-run-emulator", scratch))
    return llvm::createStringError(ec, "a temporary folder");
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(scratch); });
  llvm::SmallString<128> dir(scratch);
  llvm::sys::path::append(dir, "kernels");

  OwningOpRef<ModuleOp> module = buildModule(model, &context);
  if (!module)
    return llvm::createStringError("importing the model failed");
  EmitKernelsOptions options;
  options.chips = {backend->chip};
  options.hostLibrary = false;
  options.emulator = true;
  options.tiles.assign(kernelTiles.begin(), kernelTiles.end());
  options.tokens = input.shape[0];
  options.tuningFile = tuningFile;
  options.maxTokens = std::max<int64_t>(input.shape[0], 1);
  if (backend->progress)
    options.progress = [](const std::string &step) {
      llvm::errs() << "moe-run: compiling: " << step << "\n";
    };
  if (failed(emitKernels(*module, dir, options)))
    return llvm::createStringError("emitting the GPU kernels failed");
  return runEmitted(dir, *module, cfg, dtype, hfWeights, input, ioType,
                    *backend);
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  ::moe::setToolVersionPrinter("moe-run");
  ::moe::support::SafeTensorsFile::exitOnMappedFileFault("moe-run");
  llvm::cl::HideUnrelatedOptions({&runCategory, &emulatorCategory});
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "moe-run: compile one MoE layer for the CPU and run it\n\n"
      "  moe-run MODEL.json --layer L --weights W.safetensors --input "
      "X.safetensors --output Y.safetensors [--check]\n"
      "  moe-run MODEL.json --layer L --seed N --tokens T [--check]\n");
  if (!kernelTiles.empty() &&
      (kernelTiles.size() != 5 ||
       llvm::any_of(kernelTiles, [](int64_t t) { return t <= 0 || t > 4096; })))
    return fail("--kernel-tiles takes five sizes in 1..4096");
  if (tensorCores.getNumOccurrences() && unfused)
    return fail("--tensor-cores applies to the kernel form, not --unfused");
  if (!kernelTiles.empty() && unfused)
    return fail("--kernel-tiles applies to the kernel form, not --unfused");
  if (cpuForm && (unfused || tensorCores.getNumOccurrences() ||
                  e4m3TensorCores.getNumOccurrences() || !kernelTiles.empty() ||
                  target != "cpu" || !emittedDir.empty()))
    return fail("--cpu-form chooses the kernel form and its tiles for the "
                "CPU: not with --unfused, --tensor-cores, "
                "--e4m3-tensor-cores, --kernel-tiles, --target gpu-emulator "
                "or --emitted");
  if (cpuThreads < 1 || cpuThreads > 256)
    return fail("--cpu-threads takes 1..256");
  if (cpuThreads > 1 && (unfused || target != "cpu" || !emittedDir.empty()))
    return fail("--cpu-threads shares the kernel form's blocks on --target "
                "cpu: not with --unfused, --target gpu-emulator or "
                "--emitted");
  if (target != "cpu" && target != "gpu-emulator")
    return fail("--target is cpu or gpu-emulator, not '" + target + "'");
  if (backendName != "cpu" && backendName != "cpu-portable" &&
      backendName != "cuda-emu")
    return fail("--backend is cpu, cpu-portable or cuda-emu, not '" +
                backendName + "'");
  if (backendName != "cpu" && emittedDir.empty())
    return fail("--backend applies to --emitted DIR");
  if (target != "cpu" && !emittedDir.empty())
    return fail("--target gpu-emulator compiles the layer; --emitted runs "
                "an emitted one (with --backend cuda-emu)");
  if (target != "cpu" && (unfused || tensorCores.getNumOccurrences() ||
                          e4m3TensorCores.getNumOccurrences()))
    return fail("--unfused, --tensor-cores and --e4m3-tensor-cores apply to "
                "--target cpu");
  if (e4m3TensorCores &&
      (!fp8Activations || unfused || !tensorCores || !emittedDir.empty()))
    return fail("--e4m3-tensor-cores applies to --fp8-activations in the "
                "kernel form with tensor cores (not --unfused, "
                "--tensor-cores=false or --emitted)");
  bool emulated = target == "gpu-emulator" || backendName == "cuda-emu";
  for (llvm::cl::Option *option : std::initializer_list<llvm::cl::Option *>{
           &chip, &blockOrder, &blocksAtOnce, &emulatorUnchecked, &profilePath,
           &profileColumnStride})
    if (option->getNumOccurrences() && !emulated)
      return fail("--" + option->ArgStr +
                  " applies to --target gpu-emulator or --backend cuda-emu");
  if (tuningFile.getNumOccurrences() &&
      (unfused || !kernelTiles.empty() || !emittedDir.empty()))
    return fail("--tuning-file applies where moe-select-tiles chooses the "
                "tiles: not with --unfused, --kernel-tiles or --emitted");

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  ::moe::quietDiagnostics(context);
  context.loadAllAvailableDialects();

  // Import the description (diagnostics go to stderr with locations).
  std::string error;
  auto file = mlir::moe::openRegularInputFile(modelPath, &error);
  if (!file)
    return fail(error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  FailureOr<ModelDesc> model = readModelJson(sourceMgr, &context);
  if (failed(model))
    return 1;
  if (fp8Activations) {
    if (model->quant.format != QuantDesc::Format::fp8)
      return fail("--fp8-activations applies to fp8 checkpoints "
                  "(quantization_config quant_method fp8)");
    model->quant.fp8ActivationGroup = 128;
  }
  const MoeLayerDesc *group = findLayerGroup(*model, layerIndex);
  if (!group) {
    std::string layers;
    llvm::raw_string_ostream os(layers);
    for (const MoeLayerDesc &g : model->moeLayers)
      llvm::interleaveComma(g.layers, os);
    return fail("layer " + llvm::Twine(layerIndex) + " of " + model->name +
                " is not an MoE layer (MoE layers: " + layers + ")");
  }
  ref::LayerConfig cfg = makeLayerConfig(*model, *group, layerIndex);
  DType dtype = model->dtype;
  st::DType storage = dtype;

  // Resource bounds, checked before anything is allocated.
  double weightBytes = 0;
  std::map<std::string, st::DType> types = storageTypes(cfg, dtype);
  for (const weights::TensorSpec &spec : weights::hfTensorSpecs(cfg)) {
    double elements = 1;
    for (int64_t dim : spec.shape)
      elements *= static_cast<double>(dim);
    weightBytes += elements * st::elementSize(types.at(spec.name));
  }
  double gib = 1024.0 * 1024.0 * 1024.0;
  if (weightBytes > maxWeightGiB * gib)
    return fail(llvm::formatv("layer {0} of {1} holds {2:F1} GiB of weights; "
                              "the limit is {3:F1} GiB (--max-weight-gib)",
                              layerIndex, model->name, weightBytes / gib,
                              maxWeightGiB.getValue())
                    .str());
  // Routed rows are numbered with 32-bit integers in the compiled layer.
  int64_t tokenLimit =
      std::min<int64_t>(maxTokens, std::numeric_limits<int32_t>::max() /
                                       std::max<int64_t>(cfg.topK, 1));
  auto checkTokens = [&](int64_t count) -> bool {
    return count >= 1 && count <= tokenLimit;
  };

  // Weights, rounded to the storage types they are kept in.
  TensorMap hfWeights;
  if (!weightsPath.empty()) {
    auto read = readWeights(cfg, dtype);
    if (!read)
      return fail(read.takeError());
    hfWeights = std::move(*read);
  } else if (seed.getNumOccurrences()) {
    hfWeights = weights::randomHfWeights(cfg, seed);
    for (auto &[name, tensor] : hfWeights)
      roundAll(tensor, types.at(name));
  } else {
    return fail("give --weights W.safetensors or --seed N");
  }

  // Input, computed in the model dtype; the output takes the input's dtype.
  HostTensor input;
  st::DType outputType = storage;
  if (!inputPath.empty()) {
    auto read = readInput(cfg);
    if (!read)
      return fail(read.takeError());
    input = std::move(read->first);
    outputType = read->second;
    if (!checkTokens(input.shape[0]))
      return fail(llvm::formatv("{0}: {1} tokens; moe-run takes 1 to {2} "
                                "(--max-tokens)",
                                inputPath.getValue(), input.shape[0],
                                tokenLimit)
                      .str());
  } else if (seed.getNumOccurrences() && tokens.getNumOccurrences()) {
    if (!checkTokens(tokens))
      return fail(llvm::formatv("--tokens must be in [1, {0}] (--max-tokens; "
                                "routed rows are 32-bit indices)",
                                tokenLimit)
                      .str());
    input = weights::randomInput(cfg, tokens, seed + 1);
  } else {
    return fail("give --input X.safetensors, or --seed N with --tokens T");
  }
  roundAll(input, storage);

  if (!saveWeights.empty())
    if (llvm::Error e = writeTensors(saveWeights, cfg, hfWeights, dtype))
      return fail(std::move(e));
  if (!saveInput.empty())
    if (llvm::Error e =
            st::write(saveInput, {st::makeTensor("hidden_states", outputType,
                                                 input.shape, input.data)}))
      return fail(std::move(e));

  llvm::Expected<HostTensor> output =
      llvm::createStringError("no way to run the layer");
  if (!emittedDir.empty()) {
    ::moe::EmittedBackend backend;
    if (backendName == "cpu-portable")
      backend.backend = MOERT_BACKEND_CPU_PORTABLE;
    if (backendName == "cuda-emu") {
      auto emulated = emulatedBackend();
      if (!emulated)
        return fail(emulated.takeError());
      backend = *emulated;
    }
    OwningOpRef<ModuleOp> module = buildModule(*model, &context);
    output = runEmitted(emittedDir, *module, cfg, dtype, hfWeights, input,
                        outputType, backend);
  } else if (target == "gpu-emulator") {
    output = runOnEmulator(context, *model, cfg, dtype, hfWeights, input,
                           outputType);
  } else {
    output = runCompiled(context, *model, *group, cfg, hfWeights, input);
  }
  if (!output)
    return fail(output.takeError());

  llvm::outs() << "moe-run: " << model->name << " layer " << layerIndex << " ("
               << cfg.family << ", " << stringifyDType(dtype)
               << "): " << input.shape[0] << " tokens, " << cfg.numExperts
               << " experts, top-" << cfg.topK << "\n";
  llvm::outs() << "moe-run: ran " << describeRun(dtype, input.shape[0]) << "\n";
  if (!outputPath.empty()) {
    if (llvm::Error e = st::write(
            outputPath, {st::makeTensor("hidden_states", outputType,
                                        output->shape, output->data)}))
      return fail(std::move(e));
  }
  // The fp64 reference, once: its output for --check, its routing for
  // --profile (only that without --check: the fp64 FFNs of a large shape
  // take longer than the emulator).
  std::optional<ref::ReferenceResult> expected;
  if (check || !profilePath.empty()) {
    auto result = ref::forward(cfg, hfWeights, input, tieTolerance,
                               /*routingOnly=*/!check);
    if (!result)
      return fail(result.takeError());
    expected = std::move(*result);
  }
  if (!profilePath.empty()) {
    auto text = ::moe::layerProfileJson(emulatorProfile, cfg, dtype,
                                        input.shape[0], expected->expertTokens);
    if (!text)
      return fail(text.takeError());
    if (llvm::Error e = llvm::writeToOutput(
            profilePath, [&](llvm::raw_ostream &os) -> llvm::Error {
              os << *text;
              return llvm::Error::success();
            }))
      return fail(std::move(e));
  }
  if (check) {
    if (!::moe::checkOutput(*output, *expected, dtype, cfg.hidden,
                            llvm::outs()))
      return 1;
  }
  return 0;
}
