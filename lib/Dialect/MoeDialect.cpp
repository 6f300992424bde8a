//===- MoeDialect.cpp - moe dialect, attributes, module attributes --------===//

#include "moe/Dialect/MoeDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "moe/Dialect/MoeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

#include "dialect/Moe/MoeDialect.cpp.inc"
#include "dialect/Moe/MoeEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/Moe/MoeAttrs.cpp.inc"

void MoeDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/Moe/MoeOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/Moe/MoeAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

LogicalResult
RoutingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                    Scoring scoring, int64_t topK, Normalization normalization,
                    APFloat normPValue, APFloat normEpsilonValue,
                    int64_t nGroup, int64_t topkGroup, GroupScore groupScore,
                    APFloat scalingFactorValue, WeightPlacement placement,
                    APFloat normMinValue, APFloat jitterEpsValue) {
  double normMin = normMinValue.convertToDouble();
  double jitterEps = jitterEpsValue.convertToDouble();
  double normP = normPValue.convertToDouble();
  double normEpsilon = normEpsilonValue.convertToDouble();
  double scalingFactor = scalingFactorValue.convertToDouble();
  if (topK < 1)
    return emitError() << "topK must be at least 1, got " << topK;
  if (nGroup < 1)
    return emitError() << "nGroup must be at least 1, got " << nGroup;
  if (topkGroup < 1 || topkGroup > nGroup)
    return emitError() << "topkGroup must be in [1, nGroup = " << nGroup
                       << "], got " << topkGroup;
  bool afterTopK = scoring == Scoring::softmax_after_topk ||
                   scoring == Scoring::sigmoid_after_topk;
  if ((afterTopK || scoring == Scoring::sparsemixer) && nGroup > 1)
    return emitError() << "grouped selection (nGroup = " << nGroup
                       << ") needs scores before top-k, but scoring is "
                       << stringifyScoring(scoring);
  if (!(normMin >= 0.0 && std::isfinite(normMin)))
    return emitError() << "normMin must be finite and non-negative, got "
                       << normMin;
  if (normMin > 0.0 && normalization == Normalization::none)
    return emitError() << "normMin bounds the norm of a normalization, but "
                          "normalization is none";
  if (!(jitterEps >= 0.0 && std::isfinite(jitterEps)))
    return emitError() << "jitterEps must be finite and non-negative, got "
                       << jitterEps;
  if (jitterEps > 0.0 && scoring != Scoring::sparsemixer)
    return emitError() << "jitterEps is the relative gap of sparsemixer "
                          "scoring, but scoring is "
                       << stringifyScoring(scoring);
  if (normalization == Normalization::pnorm &&
      !(normP > 0.0 && std::isfinite(normP)))
    return emitError() << "normP must be a positive finite number, got "
                       << normP;
  if (!(normEpsilon >= 0.0 && std::isfinite(normEpsilon)))
    return emitError() << "normEpsilon must be finite and non-negative, got "
                       << normEpsilon;
  if (!(scalingFactor > 0.0 && std::isfinite(scalingFactor)))
    return emitError() << "scalingFactor must be positive and finite, got "
                       << scalingFactor;
  (void)groupScore;
  (void)placement;
  return success();
}

LogicalResult FfnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              Activation activation, APFloat alphaValue,
                              APFloat limitValue, int64_t fp8ActivationGroup,
                              bool fp8Pow2Scales) {
  double alpha = alphaValue.convertToDouble();
  double limit = limitValue.convertToDouble();
  if (!std::isfinite(alpha))
    return emitError() << "alpha must be finite, got " << alpha;
  if (!(limit > 0.0 && std::isfinite(limit)))
    return emitError() << "limit must be positive and finite, got " << limit;
  if (fp8ActivationGroup < 0)
    return emitError() << "fp8_activation_group must be positive (or absent), "
                          "got "
                       << fp8ActivationGroup;
  if (fp8Pow2Scales && fp8ActivationGroup == 0)
    return emitError() << "fp8_pow2_scales needs an fp8_activation_group";
  (void)activation;
  return success();
}

//===----------------------------------------------------------------------===//
// Module attributes: moe.model and moe.layer_map
//===----------------------------------------------------------------------===//

static LogicalResult verifyModelAttr(Operation *op, Attribute attr) {
  auto dict = dyn_cast<DictionaryAttr>(attr);
  if (!dict)
    return op->emitError() << "'" << MoeDialect::kModelAttrName
                           << "' must be a dictionary";
  for (StringRef key : {"name", "source"})
    if (!isa_and_nonnull<StringAttr>(dict.get(key)))
      return op->emitError() << "'" << MoeDialect::kModelAttrName
                             << "' needs a string '" << key << "'";
  auto numLayers = dyn_cast_or_null<IntegerAttr>(dict.get("num_layers"));
  if (!numLayers || numLayers.getInt() < 1)
    return op->emitError() << "'" << MoeDialect::kModelAttrName
                           << "' needs a positive integer 'num_layers'";
  return success();
}

static LogicalResult verifyLayerMapAttr(ModuleOp module, Attribute attr) {
  auto dict = dyn_cast<DictionaryAttr>(attr);
  if (!dict)
    return module.emitError()
           << "'" << MoeDialect::kLayerMapAttrName << "' must be a dictionary";
  int64_t numLayers = -1;
  if (auto model =
          module->getAttrOfType<DictionaryAttr>(MoeDialect::kModelAttrName))
    if (auto n = dyn_cast_or_null<IntegerAttr>(model.get("num_layers")))
      numLayers = n.getInt();
  llvm::DenseSet<int64_t> seen;
  for (NamedAttribute entry : dict) {
    auto layers = dyn_cast<DenseI64ArrayAttr>(entry.getValue());
    if (!layers)
      return module.emitError()
             << "'" << MoeDialect::kLayerMapAttrName << "' entry '"
             << entry.getName().getValue() << "' must be an array<i64>";
    // Any function: func.func before lowering, llvm.func after it.
    if (!isa_and_nonnull<FunctionOpInterface>(
            SymbolTable::lookupSymbolIn(module, entry.getName())))
      return module.emitError()
             << "'" << MoeDialect::kLayerMapAttrName << "' names function @"
             << entry.getName().getValue() << ", which is not in the module";
    for (int64_t layer : layers.asArrayRef()) {
      if (layer < 0 || (numLayers >= 0 && layer >= numLayers))
        return module.emitError()
               << "'" << MoeDialect::kLayerMapAttrName << "': layer " << layer
               << " of @" << entry.getName().getValue()
               << " is outside the model's " << numLayers << " layers";
      if (!seen.insert(layer).second)
        return module.emitError()
               << "'" << MoeDialect::kLayerMapAttrName << "': layer " << layer
               << " is mapped to more than one function";
    }
  }
  return success();
}

/// The attributes moe-outline-kernels writes, all on functions; their
/// values verify themselves (KernelAttrs.cpp).
static LogicalResult verifyOutlinedAttr(Operation *op, StringRef name,
                                        Attribute value) {
  auto fail = [&](StringRef what) {
    return op->emitError() << "'" << name << "' must be " << what;
  };
  if (!isa<FunctionOpInterface>(op))
    return fail("on a function");
  if (name == MoeDialect::kLaunchesAttrName) {
    auto array = dyn_cast<ArrayAttr>(value);
    if (!array || !llvm::all_of(array, llvm::IsaPred<FlatSymbolRefAttr>))
      return fail("an array of kernel symbols");
    return success();
  }
  if (name == MoeDialect::kKernelAbiAttrName) {
    if (!isa<KernelAbiAttr>(value))
      return fail("a #moe.kernel_abi");
    return success();
  }
  auto array = dyn_cast<ArrayAttr>(value);
  if (!array || !llvm::all_of(array, llvm::IsaPred<BufferAttr>))
    return fail("an array of #moe.buffer");
  return success();
}

LogicalResult MoeDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kKernelAttrName) {
    if (!isa<scf::ForallOp>(op) || !isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' must be a string on an scf.forall";
    return success();
  }
  if (name == kBlockThreadsAttrName) {
    auto threads = dyn_cast<IntegerAttr>(attr.getValue());
    // 1: the CPU form's kernels, whose loops are one thread's.
    if (!threads || !op->hasAttr(kKernelAttrName) ||
        (threads.getInt() != 1 &&
         (threads.getInt() < 32 || threads.getInt() > 1024 ||
          threads.getInt() % 32 != 0)))
      return op->emitError()
             << "'" << name
             << "' must be 1 or a multiple of 32 up to 1024 on a kernel's "
                "scf.forall (moe.kernel)";
    return success();
  }
  // The locality marks of moe-fuse-launches: a unit on a kernel's block
  // forall over (x, columns) or, row-local, over (x).
  if (name == kColumnLocalAttrName || name == kRowLocalAttrName) {
    unsigned rank = name == kColumnLocalAttrName ? 2 : 1;
    auto forall = dyn_cast<scf::ForallOp>(op);
    if (!isa<UnitAttr>(attr.getValue()) || !forall ||
        !op->hasAttr(kKernelAttrName) || forall.getRank() != rank)
      return op->emitError() << "'" << name << "' must be a unit on a kernel's "
                             << (rank == 2 ? "two" : "one")
                             << "-dimensional scf.forall (moe.kernel)";
    return success();
  }
  if (name == kColumnTileAttrName) {
    auto tile = dyn_cast<IntegerAttr>(attr.getValue());
    auto forall = dyn_cast<scf::ForallOp>(op);
    if (!tile || tile.getInt() < 0 || !forall ||
        !op->hasAttr(kKernelAttrName) || forall.getRank() != 2)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer on a "
                                "kernel's two-dimensional scf.forall "
                                "(moe.kernel)";
    return success();
  }
  if (name == kTilesAttrName) {
    if (!isa<TilesAttr>(attr.getValue()) || !isa<CombineOp>(op))
      return op->emitError()
             << "'" << name << "' must be a #moe.tiles on a moe.combine";
    return success();
  }
  if (name == kTensorCoreAttrName) {
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!isa<UnitAttr>(attr.getValue()) || !linalgOp ||
        linalgOp.getNumLoops() != 3 || linalgOp.getNumDpsInputs() != 2 ||
        linalgOp.getNumDpsInits() != 1 || linalgOp.getNumReductionLoops() != 1)
      return op->emitError()
             << "'" << name
             << "' marks a unit on a structured op with two inputs, one "
                "output and three loops, one a reduction";
    return success();
  }
  if (name == kAsyncCopyAttrName) {
    // The staging op (moe-form-kernels) or one 16-byte run of it
    // (moe-distribute-threads).
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    bool staging = linalgOp && linalgOp.getNumLoops() == 2 &&
                   linalgOp.getNumDpsInputs() == 0 &&
                   linalgOp.getNumDpsInits() == 1 &&
                   linalgOp.getNumReductionLoops() == 0;
    auto pending = dyn_cast<IntegerAttr>(attr.getValue());
    if (!pending || pending.getInt() < 0 ||
        !(staging || isa<vector::StoreOp>(op)))
      return op->emitError()
             << "'" << name
             << "' must be a non-negative integer on a structured op with no "
                "input, one output and two parallel loops, or on a "
                "vector.store";
    return success();
  }
  if (name == kKernelAbiAttrName || name == kBuffersAttrName ||
      name == kLaunchesAttrName)
    return verifyOutlinedAttr(op, name, attr.getValue());
  if (name != kModelAttrName && name != kLayerMapAttrName)
    return op->emitError() << "unknown moe dialect attribute '" << name << "'";
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    return op->emitError() << "'" << name << "' belongs on a builtin.module";
  if (name == kModelAttrName)
    return verifyModelAttr(op, attr.getValue());
  return verifyLayerMapAttr(module, attr.getValue());
}
