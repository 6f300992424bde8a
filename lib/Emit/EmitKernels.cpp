//===- EmitKernels.cpp - kernels, host library and manifest ---------------===//
//
// Runs moe-kernel-abi on the model's module, then per layer function builds
// the device code and the host library and describes both in the manifest
// (docs/kernel-manifest.md) from the attributes moe-outline-kernels wrote.
//
//===----------------------------------------------------------------------===//

#include "moe/Emit/EmitKernels.h"

#include "CodeGen.h"

#include "moe/Dialect/KernelAttrs.h"
#include "moe/Dialect/MoeDialect.h"
#include "moe/Dialect/MoeOps.h"
#include "moe/Emit/EmulatorLibrary.h"
#include "moe/Import/Import.h"
#include "moe/Import/LayerSelection.h"
#include "moe/Pipelines/Pipelines.h"
#include "moe/Target/NVVM/ChipInfo.h"
#include "moe/Transforms/CpuTarget.h"
#include "moe/Weights/HfWeights.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

using namespace mlir;
using namespace mlir::moe;
using json = nlohmann::ordered_json;

namespace {

/// The results of `map` (from T) as the manifest writes sizes: integers,
/// and formulas in its grammar where they depend on T.
json formulasJson(AffineMap map) {
  json list = json::array();
  for (AffineExpr size : map.getResults()) {
    if (auto constant = dyn_cast<AffineConstantExpr>(size))
      list.push_back(constant.getValue());
    else
      list.push_back(printManifestFormula(size));
  }
  return list;
}

/// The manifest's name of an element type, or nullptr (support's names).
const char *dtypeName(Type type) {
  std::optional<DType> dtype = dtypeOfType(type);
  return dtype ? ::moe::support::manifestName(*dtype) : nullptr;
}

/// One layer function's entry of the manifest and its C header.
class LayerWriter {
public:
  /// `cubins`: the targets have cubins (ptxas was found), else PTX only.
  LayerWriter(func::FuncOp imported, func::FuncOp layer, ModuleOp abi,
              const ModelDesc &model, const EmitKernelsOptions &options,
              bool cubins)
      : imported(imported), layer(layer), abi(abi), model(model),
        options(options), cubins(cubins) {}

  /// The manifest entry. The outline pass's `weight<i>` buffers take the
  /// names of the moe.layer operands argument i + 1 of the imported layer
  /// function feeds, which must be the weights of the family's checkpoints
  /// (kernelTensorSpecs), with their shapes: packing steps use the names.
  FailureOr<json> manifest(llvm::ArrayRef<int64_t> decoderLayers);
  /// The layer's `cpu` entry, when this writer's ABI is the CPU form's: its
  /// library, instruction set and threads, its own workspaces, kernels and
  /// launches. Its input, weights and output must be `gpuEntry`'s buffers,
  /// so that one packing serves both forms.
  FailureOr<json> cpuSection(const json &gpuEntry, const CpuTarget &cpu,
                             int64_t threads);
  std::string header() const;

private:
  /// What the manifest and the CPU entry both describe of this writer's
  /// ABI: the layer's configuration, its buffers (weights named),
  /// kernels and launch order.
  struct Abi {
    ::moe::ref::LayerConfig cfg;
    json buffers, kernels, launches;
  };
  FailureOr<Abi> describeAbi(int64_t decoderLayer);
  json targets(const std::string &fn) const;
  /// Names the outlined `weight<i>` buffers after the moe.layer operands
  /// they are; fails unless they are the weights `specs` of the family's
  /// checkpoints, shape for shape.
  LogicalResult nameWeights(llvm::ArrayRef<::moe::weights::TensorSpec> specs);
  /// The `moe.buffers` entries.
  FailureOr<json> bufferList(ArrayAttr buffers);
  /// The kernels of `launches` with their ABI; `order` receives the launch
  /// order.
  FailureOr<json> kernelList(ArrayAttr launches, json &order);

  std::string bufferName(llvm::StringRef outlined) const {
    auto it = renames.find(outlined.str());
    return it == renames.end() ? outlined.str() : it->second;
  }

  /// The layer function as imported (with its moe.layer), and outlined.
  func::FuncOp imported, layer;
  ModuleOp abi;
  const ModelDesc &model;
  const EmitKernelsOptions &options;
  bool cubins;
  std::map<std::string, std::string> renames;
  json entry;
};

/// The packing steps of `cfg` as the manifest's "weight_packing", with the
/// decoder layer as "{L}".
json packingJson(const ::moe::ref::LayerConfig &cfg) {
  json steps = json::array();
  for (const ::moe::weights::PackStep &s :
       ::moe::weights::packingSteps(cfg, "{L}")) {
    json step = {{"buffer", s.buffer}, {"tensor", s.tensor}};
    for (const auto &field : ::moe::support::kStridedCopyFields)
      step[field.key] = s.*field.member;
    steps.push_back(step);
  }
  return steps;
}

FailureOr<LayerWriter::Abi> LayerWriter::describeAbi(int64_t decoderLayer) {
  const MoeLayerDesc *group = findLayerGroup(model, decoderLayer);
  if (!group)
    return layer.emitError("no MoE layer group for decoder layer ")
           << decoderLayer;
  Abi abi{makeLayerConfig(model, *group, decoderLayer), {}, {}, json::array()};
  auto buffers = layer->getAttrOfType<ArrayAttr>(MoeDialect::kBuffersAttrName);
  auto launches =
      layer->getAttrOfType<ArrayAttr>(MoeDialect::kLaunchesAttrName);
  if (!buffers || !launches)
    return layer.emitError("not outlined (no moe.buffers / moe.launches)");
  if (failed(nameWeights(::moe::weights::kernelTensorSpecs(abi.cfg))))
    return failure();
  FailureOr<json> bufferEntries = bufferList(buffers);
  if (failed(bufferEntries))
    return failure();
  abi.buffers = std::move(*bufferEntries);
  FailureOr<json> kernels = kernelList(launches, abi.launches);
  if (failed(kernels))
    return failure();
  abi.kernels = std::move(*kernels);
  return abi;
}

FailureOr<json> LayerWriter::manifest(llvm::ArrayRef<int64_t> decoderLayers) {
  std::string fn = layer.getName().str();
  FailureOr<Abi> abi = describeAbi(decoderLayers.front());
  if (failed(abi))
    return failure();
  entry["function"] = fn;
  entry["decoder_layers"] = decoderLayers.vec();
  entry["dtype"] = stringifyDType(model.dtype).str();
  entry["hidden_size"] = model.hiddenSize;
  entry["max_tokens"] = options.maxTokens;
  // w8a8: what the kernels do to their GEMM inputs (informational: the
  // kernels do it; a runtime gives them model-dtype hidden states).
  if (abi->cfg.fp8ActivationGroup)
    entry["activations"] = {{"fp8_group", abi->cfg.fp8ActivationGroup},
                            {"pow2_scales", abi->cfg.fp8Pow2Scales}};
  entry["targets"] = targets(fn);
  if (options.hostLibrary)
    entry["host_library"] = fn + ".host.so";
  entry["buffers"] = abi->buffers;
  entry["weight_packing"] = packingJson(abi->cfg);
  entry["kernels"] = abi->kernels;
  entry["launches"] = abi->launches;
  return entry;
}

FailureOr<json> LayerWriter::cpuSection(const json &gpuEntry,
                                        const CpuTarget &cpu, int64_t threads) {
  FailureOr<Abi> abi =
      describeAbi(gpuEntry["decoder_layers"].front().get<int64_t>());
  if (failed(abi))
    return failure();
  auto shared = [](const json &list) {
    json kept = json::array();
    for (const json &b : list)
      if (b["kind"] != "workspace")
        kept.push_back(b);
    return kept;
  };
  if (shared(abi->buffers) != shared(gpuEntry["buffers"]))
    return layer.emitError("the CPU form's input, weights and output differ "
                           "from the GPU kernels' (one packing must serve "
                           "both)");
  json workspaces = json::array();
  for (const json &b : abi->buffers)
    if (b["kind"] == "workspace")
      workspaces.push_back(b);
  json section;
  section["library"] = layer.getName().str() + ".cpu.so";
  section["isa"] = cpu.isa;
  section["features"] = cpu.features;
  section["threads"] = threads;
  section["workspaces"] = workspaces;
  section["kernels"] = abi->kernels;
  section["launches"] = abi->launches;
  return section;
}

json LayerWriter::targets(const std::string &fn) const {
  json list = json::array();
  for (const std::string &chip : options.chips) {
    json target = {{"chip", chip}};
    if (cubins)
      target["cubin"] = fn + "." + chip + ".cubin";
    target["ptx"] = fn + "." + chip + ".ptx";
    if (options.emulator)
      target["emulator"] = fn + "." + chip + ".emu.so";
    list.push_back(target);
  }
  return list;
}

/// The moe.layer operand each argument after the hidden states of `fn` is
/// (its ODS name, which kernelTensorSpecs uses too), in argument order.
FailureOr<SmallVector<StringRef>> weightOperandNames(func::FuncOp fn) {
  SmallVector<LayerOp> layers;
  fn.walk([&](LayerOp op) { layers.push_back(op); });
  if (layers.size() != 1)
    return fn.emitError("emitting kernels needs exactly one moe.layer in @")
           << fn.getSymName() << ", found " << layers.size();
  LayerOp op = layers.front();
  std::pair<StringRef, Value> operands[] = {
      {"router_weight", op.getRouterWeight()},
      {"router_bias", op.getRouterBias()},
      {"correction_bias", op.getCorrectionBias()},
      {"gate_up", op.getGateUp()},
      {"down", op.getDown()},
      {"gate_up_bias", op.getGateUpBias()},
      {"down_bias", op.getDownBias()},
      {"shared_gate_up", op.getSharedGateUp()},
      {"shared_down", op.getSharedDown()},
      {"shared_gate", op.getSharedGate()}};
  // A quantized weight's values and scale feed its moe.dequantize: they are
  // `name` and `name`_scale (kernelTensorSpecs' names).
  static llvm::StringSet<> scaleNames;
  SmallVector<StringRef> names;
  for (BlockArgument arg : fn.getArguments().drop_front()) {
    SmallVector<StringRef> fed;
    for (auto [name, value] : operands) {
      if (!value)
        continue;
      auto dequantize = value.getDefiningOp<DequantizeOp>();
      if (value == arg || (dequantize && dequantize.getQuantized() == arg))
        fed.push_back(name);
      else if (dequantize && dequantize.getScale() == arg)
        fed.push_back(
            scaleNames.insert((name + "_scale").str()).first->getKey());
    }
    if (fed.size() != 1)
      return fn.emitError("argument ")
             << arg.getArgNumber()
             << " must be exactly one weight operand of the moe.layer, or "
                "the values or scale of one";
    names.push_back(fed.front());
  }
  return names;
}

LogicalResult
LayerWriter::nameWeights(llvm::ArrayRef<::moe::weights::TensorSpec> specs) {
  FailureOr<SmallVector<StringRef>> names = weightOperandNames(imported);
  if (failed(names))
    return failure();
  if (names->size() != specs.size())
    return imported.emitError("the layer takes ")
           << names->size() << " weights, its family's checkpoints give "
           << specs.size();
  for (auto [i, name] : llvm::enumerate(*names)) {
    // A copy for the lambda: clang 14 cannot capture a structured binding.
    StringRef weightName = name;
    const auto *spec = llvm::find_if(
        specs, [&](const auto &s) { return s.name == weightName.str(); });
    auto type = cast<ShapedType>(imported.getArgument(i + 1).getType());
    if (spec == specs.end())
      return imported.emitError("the family's checkpoints have no ") << name;
    if (type.getShape() != llvm::ArrayRef<int64_t>(spec->shape))
      return imported.emitError("weight ")
             << name << " is " << type << ", its checkpoints give ["
             << llvm::join(llvm::map_range(
                               spec->shape,
                               [](int64_t d) { return std::to_string(d); }),
                           ", ")
             << "]";
    renames["weight" + std::to_string(i)] = name.str();
  }
  return success();
}

FailureOr<json> LayerWriter::bufferList(ArrayAttr buffers) {
  json list = json::array();
  for (auto description : buffers.getAsRange<BufferAttr>()) {
    MemRefType type = description.getType();
    const char *dtype = dtypeName(type.getElementType());
    if (!dtype)
      return layer.emitError("no manifest dtype for ") << type;
    json buffer = {{"name", bufferName(description.getName().getValue())},
                   {"kind", description.getKind().str()},
                   {"dtype", dtype},
                   {"shape", formulasJson(description.getShape())}};
    if (description.getZeroInit())
      buffer["zero_init"] = true;
    list.push_back(buffer);
  }
  return list;
}

FailureOr<json> LayerWriter::kernelList(ArrayAttr launches, json &order) {
  json kernels = json::array();
  for (auto symbol : launches.getAsRange<FlatSymbolRefAttr>()) {
    auto kernel = abi.lookupSymbol<func::FuncOp>(symbol.getValue());
    auto abiAttr = kernel ? kernel->getAttrOfType<KernelAbiAttr>(
                                MoeDialect::kKernelAbiAttrName)
                          : nullptr;
    if (!abiAttr)
      return layer.emitError("launch of a missing kernel ") << symbol;
    json params = json::array();
    for (auto p : abiAttr.getParams().getAsRange<StringAttr>())
      params.push_back(
          {{"name", p.getValue() == "T" ? "T" : bufferName(p.getValue())},
           {"kind", p.getValue() == "T" ? "tokens" : "buffer"}});
    json grid = formulasJson(abiAttr.getGrid());
    // moe-distribute-threads' block and the bytes of its temporaries in
    // dynamic shared memory (moe-kernels-to-gpu places them there).
    std::array<int64_t, 3> blockSizes = abiAttr.getBlockSizes();
    json block = {blockSizes[0], blockSizes[1], blockSizes[2]};
    int64_t sharedBytes = abiAttr.getSharedMemory();
    kernels.push_back({{"symbol", symbol.getValue().str()},
                       {"params", params},
                       {"block", block},
                       {"grid", grid},
                       {"dynamic_shared_memory", sharedBytes}});
    order.push_back(symbol.getValue().str());
  }
  return kernels;
}

std::string LayerWriter::header() const {
  std::string fn = entry["function"];
  std::string upper = llvm::StringRef(fn).upper();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* Generated by moe-translate --emit-kernels; do not edit.\n"
     << " * " << fn << " of " << model.name
     << ": the kernels of manifest.json, in launch order\n"
     << " * (docs/kernel-manifest.md). Each kernel takes its buffers'\n"
     << " * pointers (16-byte aligned: rows are copied 16 bytes at a\n"
     << " * time), then the token count T as int64_t. */\n"
     << "#ifndef MOE_KERNELS_" << upper << "_H\n"
     << "#define MOE_KERNELS_" << upper << "_H\n\n"
     << "#include <stdint.h>\n\n"
     << "#define " << upper << "_HIDDEN_SIZE "
     << entry["hidden_size"].get<int64_t>() << "\n"
     << "#define " << upper << "_NUM_KERNELS " << entry["kernels"].size()
     << "\n\n";
  os << "/* Buffers: name, kind, dtype, shape (formulas in T); zero_init:\n"
     << " * zero it before each run's first launch (the kernels rely on it). "
        "*/\n";
  for (const json &b : entry["buffers"])
    os << "/*   " << b["name"].get<std::string>() << ": "
       << b["kind"].get<std::string>() << ", " << b["dtype"].get<std::string>()
       << ", " << b["shape"].dump()
       << (b.value("zero_init", false) ? ", zero_init" : "") << " */\n";
  if (options.hostLibrary && !options.cpu.empty())
    os << "\n/* " << fn << ".cpu.so, the CPU form (manifest.json's \"cpu\"\n"
       << " * entry), exports the same symbols with its own grids and\n"
       << " * workspaces. */\n";
  os << "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  for (const json &k : entry["kernels"]) {
    std::string symbol = k["symbol"];
    os << "/* " << symbol << ": grid " << k["grid"].dump() << ", block "
       << k["block"].dump() << "\n *   params:";
    for (const json &p : k["params"])
      os << " " << p["name"].get<std::string>();
    os << " */\n"
       << "/* Host library entry: params[i] points to argument i. */\n"
       << "void _mlir_" << symbol << "(void **params);\n\n";
  }
  os << "static const char *const " << fn << "_launches[" << upper
     << "_NUM_KERNELS] = {\n";
  for (const json &l : entry["launches"])
    os << "    \"" << l.get<std::string>() << "\",\n";
  os << "};\n\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* MOE_KERNELS_" << upper
     << "_H */\n";
  return text;
}

/// The files of one emission, written into a scratch folder beside OUT_DIR
/// and moved into OUT_DIR only when all of them are written, so a failure
/// leaves no partial output. The folder is removed on destruction.
class ScratchFolder {
public:
  ScratchFolder(Location loc, llvm::StringRef outDir)
      : loc(loc), outDir(outDir.str()) {
    path = outDir;
    llvm::sys::path::remove_dots(path, true);
    while (path.size() > 1 && llvm::sys::path::is_separator(path.back()))
      path.pop_back(); // "out/" -> "out.partial-N", not "out/.partial-N"
    path += ".partial-" + std::to_string(llvm::sys::Process::getProcessId());
  }
  ~ScratchFolder() { llvm::sys::fs::remove_directories(path); }

  LogicalResult create() {
    if (std::error_code ec = llvm::sys::fs::create_directories(path))
      return emitError(loc) << "cannot create " << path << ": " << ec.message();
    return success();
  }

  /// Where file `name` is built; add(name) once it is.
  std::string in(llvm::StringRef name) const {
    llvm::SmallString<256> file(path);
    llvm::sys::path::append(file, name);
    return std::string(file);
  }
  void add(llvm::StringRef name) { files.push_back(name.str()); }

  /// Writes `bytes` as file `name`.
  LogicalResult write(llvm::StringRef name, llvm::StringRef bytes) {
    std::string target = in(name);
    std::error_code ec;
    llvm::raw_fd_ostream os(target, ec);
    if (!ec) {
      os << bytes;
      os.close();
      ec = os.error();
    }
    if (ec)
      return emitError(loc)
             << "cannot write " << target << ": " << ec.message();
    add(name);
    return success();
  }

  /// Moves the files into OUT_DIR in the order they were added (the
  /// manifest last: a reader never sees a manifest naming files of another
  /// run).
  LogicalResult publish() {
    if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
      return emitError(loc)
             << "cannot create " << outDir << ": " << ec.message();
    for (const std::string &name : files) {
      llvm::SmallString<256> target(outDir);
      llvm::sys::path::append(target, name);
      if (std::error_code ec = llvm::sys::fs::rename(in(name), target))
        return emitError(loc) << "cannot move " << name << " into " << outDir
                              << ": " << ec.message();
    }
    return success();
  }

private:
  Location loc;
  std::string outDir;
  llvm::SmallString<256> path;
  std::vector<std::string> files;
};

/// The code files of layer function `fn` from its kernels: per chip the PTX,
/// the cubin and (with `options.emulator`) the emulator library, and the
/// host library.
LogicalResult writeLayerCode(ModuleOp kernels, llvm::StringRef fn,
                             const EmitKernelsOptions &options,
                             const std::optional<std::string> &ptxas,
                             ScratchFolder &out,
                             llvm::function_ref<void(llvm::StringRef)> step) {
  if (!options.chips.empty()) {
    step(ptxas ? "NVVM, PTX and cubins" : "NVVM and PTX");
    // One NVVM module for the cubins and the emulator libraries alike.
    auto lowered = lowerKernelsToNVVM(kernels, options.chips);
    if (failed(lowered))
      return failure();
    auto code = buildDeviceCode(**lowered, options.chips, ptxas);
    if (failed(code))
      return failure();
    for (auto &[chip, c] : *code) {
      if (failed(out.write((fn + "." + chip + ".ptx").str(), c.ptx)) ||
          (ptxas &&
           failed(out.write((fn + "." + chip + ".cubin").str(), c.cubin))))
        return failure();
    }
    // Per chip although today's chips share one gpu.module: a chip's
    // library is its own module's, whatever moe-kernels-to-gpu makes.
    if (options.emulator) {
      for (const std::string &chip : options.chips) {
        step("emulator library for " + chip);
        std::string name = (fn + "." + chip + ".emu.so").str();
        if (failed(buildEmulatorLibrary(**lowered, chip, out.in(name))))
          return failure();
        out.add(name);
      }
    }
  }
  if (options.hostLibrary) {
    step("host library");
    std::string name = (fn + ".host.so").str();
    if (failed(buildHostLibrary(kernels, out.in(name))))
      return failure();
    out.add(name);
  }
  return success();
}

/// The CPU form's library of layer function `fn`, for `cpu`.
LogicalResult writeCpuLibrary(ModuleOp kernels, llvm::StringRef fn,
                              const CpuTarget &cpu, int64_t threads,
                              ScratchFolder &out,
                              llvm::function_ref<void(llvm::StringRef)> step) {
  step("CPU library for " + cpu.name());
  std::string name = (fn + ".cpu.so").str();
  HostCode code{cpu.isa, cpu.llvmFeatures(), threads};
  if (failed(buildHostLibrary(kernels, out.in(name), code)))
    return failure();
  out.add(name);
  return success();
}

/// A module holding only the kernel functions `symbols` of `abi`.
OwningOpRef<ModuleOp> kernelsOnly(ModuleOp abi, ArrayAttr symbols) {
  OwningOpRef<ModuleOp> module = abi.clone();
  llvm::StringSet<> keep;
  for (auto symbol : symbols.getAsRange<FlatSymbolRefAttr>())
    keep.insert(symbol.getValue());
  for (auto func : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
    if (!keep.contains(func.getName()))
      func.erase();
  (*module)->removeAttr(MoeDialect::kLayerMapAttrName);
  return module;
}

} // namespace

LogicalResult mlir::moe::emitKernels(ModuleOp module, llvm::StringRef outDir,
                                     const EmitKernelsOptions &options) {
  Location loc = module.getLoc();
  if (options.maxTokens < 1)
    return emitError(loc) << "max_tokens must be positive";
  // moe-select-tiles knows the CPU as a target; the kernels are GPU code.
  if (llvm::is_contained(options.chips, "cpu"))
    return emitError(loc) << "'cpu' is not a GPU chip (the CPU's own kernel "
                             "form is the CPU library: --cpu)";
  // The CPU form's library, for the instruction set asked for.
  std::optional<CpuTarget> cpu;
  if (options.hostLibrary && !options.cpu.empty()) {
    std::string error;
    cpu = parseCpuTarget(options.cpu, error);
    if (!cpu)
      return emitError(loc) << "--cpu: " << error;
    if (options.cpuThreads < 0 || options.cpuThreads > 256)
      return emitError(loc) << "--cpu-threads takes 0 (OpenMP's default) "
                               "to 256";
  }
  if (options.emulator && options.chips.empty())
    return emitError(loc) << "emulator libraries are built per target chip: "
                             "they need the device code";
  // Everything the manifest says of the model and its weights comes from
  // the module (its attributes, each layer's moe.layer and weight types).
  FailureOr<ModelDesc> model = readModule(module);
  if (failed(model))
    return failure();
  auto layerMap =
      module->getAttrOfType<DictionaryAttr>(MoeDialect::kLayerMapAttrName);

  OwningOpRef<ModuleOp> abi = module.clone();
  PassManager pm(module.getContext());
  TileSelection selection{options.chips.empty() ? "sm_90"
                                                : options.chips.front(),
                          options.tokens, options.tuningFile};
  // w8a8's e4m3 form where every chip has e4m3 mma.sync (sm_89+): the
  // host library and the emulator run the same form.
  if (options.progress)
    options.progress("forming the kernels of every layer function");
  buildMoeKernelAbiPipeline(pm, options.tiles, &selection,
                            /*tensorCores=*/true,
                            nvidia::haveFp8Mma(options.chips));
  if (failed(pm.run(*abi)))
    return failure();
  // The CPU form: moe-select-tiles for the CPU (its tuning-file entries
  // too; --kernel-tiles are the GPU kernels'), no tensor cores.
  OwningOpRef<ModuleOp> cpuAbi;
  if (cpu) {
    if (options.progress)
      options.progress("forming the CPU form of every layer function (" +
                       cpu->name() + ")");
    cpuAbi = module.clone();
    PassManager cpuPm(module.getContext());
    TileSelection cpuSelection{"cpu", options.tokens, options.tuningFile,
                               options.cpu};
    buildMoeKernelAbiPipeline(cpuPm, {}, &cpuSelection,
                              /*tensorCores=*/false);
    if (failed(cpuPm.run(*cpuAbi)))
      return failure();
  }

  // Without ptxas the kernels are still compiled, to PTX (which the CUDA
  // driver JIT-compiles; the kernels need no libdevice).
  std::optional<std::string> ptxas;
  if (!options.chips.empty()) {
    ptxas = findPtxas(options.cudaPath);
    if (!ptxas)
      emitWarning(loc) << "no ptxas found (--cuda-path, else CUDA_HOME or "
                          "CUDA_PATH, else PATH, else /usr/local/cuda): "
                          "writing PTX only; cubins need ptxas";
  }

  // Everything goes to a scratch folder beside OUT_DIR first.
  ScratchFolder out(loc, outDir);
  if (failed(out.create()))
    return failure();

  json layers = json::array();
  size_t index = 0;
  for (NamedAttribute entry : layerMap) {
    StringRef fn = entry.getName().getValue();
    ++index;
    auto step = [&](llvm::StringRef what) {
      if (options.progress)
        options.progress((fn + " (" + llvm::Twine(index) + " of " +
                          llvm::Twine(layerMap.size()) + "): " + what)
                             .str());
    };
    auto layer = abi->lookupSymbol<func::FuncOp>(fn);
    auto decoderLayers = dyn_cast<DenseI64ArrayAttr>(entry.getValue());
    if (!layer || !decoderLayers || decoderLayers.empty())
      return emitError(loc) << "layer function @" << fn << " is missing";
    LayerWriter writer(module.lookupSymbol<func::FuncOp>(fn), layer, *abi,
                       *model, options, ptxas.has_value());
    FailureOr<json> description = writer.manifest(decoderLayers.asArrayRef());
    if (failed(description))
      return failure();
    OwningOpRef<ModuleOp> cpuKernels;
    if (cpu) {
      auto cpuLayer = cpuAbi->lookupSymbol<func::FuncOp>(fn);
      if (!cpuLayer)
        return emitError(loc) << "layer function @" << fn << " is missing";
      LayerWriter cpuWriter(module.lookupSymbol<func::FuncOp>(fn), cpuLayer,
                            *cpuAbi, *model, options, ptxas.has_value());
      FailureOr<json> section =
          cpuWriter.cpuSection(*description, *cpu, options.cpuThreads);
      if (failed(section))
        return failure();
      (*description)["cpu"] = *section;
      cpuKernels = kernelsOnly(*cpuAbi, cpuLayer->getAttrOfType<ArrayAttr>(
                                            MoeDialect::kLaunchesAttrName));
    }
    layers.push_back(*description);

    auto launches =
        layer->getAttrOfType<ArrayAttr>(MoeDialect::kLaunchesAttrName);
    OwningOpRef<ModuleOp> kernels = kernelsOnly(*abi, launches);
    if (failed(writeLayerCode(*kernels, fn, options, ptxas, out, step)) ||
        (cpu && failed(writeCpuLibrary(*cpuKernels, fn, *cpu,
                                       options.cpuThreads, out, step))) ||
        failed(out.write((fn + ".h").str(), writer.header())))
      return failure();
  }

  json manifest = {{"format", "moe-kernels"},
                   {"version", 1},
                   {"model", model->name},
                   {"layers", layers}};
  if (failed(out.write("manifest.json", manifest.dump(2) + "\n")))
    return failure();
  return out.publish();
}
