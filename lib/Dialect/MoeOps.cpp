//===- MoeOps.cpp - moe op verifiers --------------------------------------===//
//
// Shape rules live here rather than in ODS type constraints so each message
// can name the operand, the dimension and both sizes that disagree.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Checks the ranks and dimensions of an op's tensors against named sizes.
/// Dynamic sizes match anything; the first static size seen for a name is
/// the one later dimensions must agree with.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// Checks `value` has rank `dims.size()` and binds or compares each
  /// dimension with the size name in `dims` ("" skips a dimension).
  LogicalResult check(StringRef what, Type type, ArrayRef<StringRef> dims) {
    auto tensor = cast<RankedTensorType>(type);
    if (tensor.getRank() != static_cast<int64_t>(dims.size())) {
      // Unnamed (unchecked) dimensions print as "*".
      SmallVector<StringRef> shown(dims);
      for (StringRef &name : shown)
        if (name.empty())
          name = "*";
      return op->emitOpError()
             << what << " must have rank " << dims.size() << " ["
             << llvm::join(shown, ", ") << "], got " << tensor;
    }
    for (auto [i, name] : llvm::enumerate(dims)) {
      if (name.empty())
        continue;
      if (failed(bind(what, i, name, tensor.getDimSize(i))))
        return failure();
    }
    return success();
  }

  /// Binds or compares one size by name.
  LogicalResult bind(StringRef what, size_t dim, StringRef name, int64_t size) {
    if (ShapedType::isDynamic(size))
      return success();
    auto [it, inserted] =
        sizes.try_emplace(name, Binding{size, what.str(), dim});
    if (inserted || it->second.size == size)
      return success();
    return op->emitOpError()
           << what << " dimension " << dim << " (" << name << ") is " << size
           << ", but " << it->second.what << " dimension " << it->second.dim
           << " says " << name << " = " << it->second.size;
  }

  /// Returns the bound size of `name`, or dynamic.
  int64_t get(StringRef name) const {
    auto it = sizes.find(name);
    return it == sizes.end() ? ShapedType::kDynamic : it->second.size;
  }

  /// Requires `type` to have a static shape (sizes fixed at compile time).
  LogicalResult requireStatic(StringRef what, Type type) {
    if (cast<RankedTensorType>(type).hasStaticShape())
      return success();
    return op->emitOpError()
           << what << " must have a static shape, got " << type;
  }

  /// Requires `a` and `b` to have the same element type.
  LogicalResult sameElementType(StringRef whatA, Type a, StringRef whatB,
                                Type b) {
    Type ea = getElementTypeOrSelf(a), eb = getElementTypeOrSelf(b);
    if (ea == eb)
      return success();
    return op->emitOpError() << whatA << " has element type " << ea << " but "
                             << whatB << " has " << eb;
  }

  InFlightDiagnostic emitOpError() { return op->emitOpError(); }

private:
  struct Binding {
    int64_t size;
    std::string what;
    size_t dim;
  };
  Operation *op;
  llvm::StringMap<Binding> sizes;
};
} // namespace

/// Routing rules that depend on the expert count `numExperts`.
static LogicalResult verifyRoutingForExperts(Operation *op, RoutingAttr routing,
                                             int64_t numExperts,
                                             bool hasCorrectionBias) {
  int64_t topK = routing.getTopK();
  if (topK > numExperts)
    return op->emitOpError()
           << "top_k (" << topK << ") exceeds the number of experts ("
           << numExperts << ")";
  int64_t nGroup = routing.getNGroup();
  if (numExperts % nGroup != 0)
    return op->emitOpError()
           << "nGroup (" << nGroup
           << ") does not divide the number of experts (" << numExperts << ")";
  int64_t perGroup = numExperts / nGroup;
  if (topK > routing.getTopkGroup() * perGroup)
    return op->emitOpError()
           << "top_k (" << topK << ") exceeds the experts in the "
           << routing.getTopkGroup() << " kept groups of " << perGroup;
  if (nGroup > 1 && routing.getGroupScore() == GroupScore::top2_sum &&
      perGroup < 2)
    return op->emitOpError() << "group score top2_sum needs at least 2 "
                                "experts per group, got "
                             << perGroup;
  bool afterTopK = routing.getScoring() == Scoring::softmax_after_topk ||
                   routing.getScoring() == Scoring::sigmoid_after_topk ||
                   routing.getScoring() == Scoring::sparsemixer;
  if (hasCorrectionBias && afterTopK)
    return op->emitOpError() << "a correction bias needs scores before "
                                "top-k, but scoring is "
                             << stringifyScoring(routing.getScoring());
  return success();
}

/// Checks an FFN's weights. `lead` is {"E"} for per-expert stacks and {}
/// for a single (shared) expert; `prefix` names the operands in messages.
static LogicalResult verifyFfnWeights(ShapeChecker &shapes, FfnAttr ffn,
                                      ArrayRef<StringRef> lead, Type gateUp,
                                      Type down, Type gateUpBias, Type downBias,
                                      StringRef prefix) {
  auto dims = [&](ArrayRef<StringRef> tail) {
    SmallVector<StringRef> all(lead);
    all.append(tail.begin(), tail.end());
    return all;
  };
  std::string gateUpName = (prefix + "gate_up").str();
  std::string downName = (prefix + "down").str();
  if (failed(shapes.requireStatic(gateUpName, gateUp)) ||
      failed(shapes.requireStatic(downName, down)) ||
      failed(shapes.check(downName, down, dims({"H", "I"}))) ||
      failed(shapes.check(gateUpName, gateUp, dims({"", "H"}))))
    return failure();
  // Gated activations stack the gate and up projections: 2I rows.
  auto gateUpType = cast<RankedTensorType>(gateUp);
  int64_t rows = gateUpType.getDimSize(gateUpType.getRank() - 2);
  int64_t inter = shapes.get("I");
  int64_t expected = inter;
  if (ffn.isGated() && !ShapedType::isDynamic(inter) &&
      llvm::MulOverflow(inter, int64_t(2), expected))
    return shapes.emitOpError()
           << downName << " intermediate size I = " << inter
           << " is too large (2I overflows)";
  if (rows != expected)
    return shapes.emitOpError()
           << gateUpName << " has " << rows << " rows, but "
           << stringifyActivation(ffn.getActivation()) << " with " << downName
           << " intermediate size I = " << inter << " needs "
           << (ffn.isGated() ? "2I = " : "I = ") << expected;
  if (gateUpBias) {
    std::string name = (prefix + "gate_up_bias").str();
    if (failed(shapes.check(name, gateUpBias, dims({""}))))
      return failure();
    auto biasType = cast<RankedTensorType>(gateUpBias);
    int64_t biasRows = biasType.getDimSize(biasType.getRank() - 1);
    if (!ShapedType::isDynamic(biasRows) && biasRows != expected)
      return shapes.emitOpError()
             << name << " has " << biasRows << " entries per expert, expected "
             << expected;
  }
  if (downBias &&
      failed(shapes.check((prefix + "down_bias").str(), downBias, dims({"H"}))))
    return failure();
  return success();
}

/// Checks that every weight has the input's element type.
static LogicalResult
verifySameElementTypes(ShapeChecker &shapes, Type input,
                       ArrayRef<std::pair<StringRef, Type>> weights) {
  for (auto [name, type] : weights)
    if (type && failed(shapes.sameElementType("input", input, name, type)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Op verifiers
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput().getType(), {"T", "H"})) ||
      failed(shapes.requireStatic("weight", getWeight().getType())) ||
      failed(shapes.check("weight", getWeight().getType(), {"E", "H"})) ||
      failed(shapes.check("logits", getLogits().getType(), {"T", "E"})))
    return failure();
  if (getBias() && failed(shapes.check("bias", getBias().getType(), {"E"})))
    return failure();
  return verifySameElementTypes(
      shapes, getInput().getType(),
      {{"weight", getWeight().getType()},
       {"bias", getBias() ? getBias().getType() : Type()}});
}

LogicalResult GateOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("logits", getLogits().getType(), {"T", "E"})))
    return failure();
  if (ShapedType::isDynamic(shapes.get("E")))
    return emitOpError() << "logits need a static expert dimension, got "
                         << getLogits().getType();
  if (failed(shapes.bind("routing", 0, "K", getRouting().getTopK())) ||
      failed(shapes.check("weights", getWeights().getType(), {"T", "K"})) ||
      failed(shapes.check("indices", getIndices().getType(), {"T", "K"})))
    return failure();
  if (getCorrectionBias() &&
      failed(shapes.check("correction_bias", getCorrectionBias().getType(),
                          {"E"})))
    return failure();
  return verifyRoutingForExperts(*this, getRouting(), shapes.get("E"),
                                 static_cast<bool>(getCorrectionBias()));
}

/// Expert ids are 32-bit in the lowering (dispatch offsets, gate ids).
static constexpr int64_t kMaxExperts = INT32_MAX - 1;

LogicalResult DispatchOp::verify() {
  ShapeChecker shapes(*this);
  if (getNumExperts() > kMaxExperts)
    return emitOpError() << "num_experts (" << getNumExperts()
                         << ") exceeds the supported " << kMaxExperts;
  if (failed(shapes.check("indices", getIndices().getType(), {"T", "K"})) ||
      failed(shapes.check("permutation", getPermutation().getType(), {"N"})) ||
      failed(shapes.bind("num_experts", 0, "E+1", getNumExperts() + 1)) ||
      failed(shapes.check("offsets", getOffsets().getType(), {"E+1"})))
    return failure();
  int64_t t = shapes.get("T"), k = shapes.get("K"), n = shapes.get("N");
  int64_t product = 0;
  if (!ShapedType::isDynamic(t) && !ShapedType::isDynamic(k) &&
      llvm::MulOverflow(t, k, product))
    return emitOpError() << "T * K = " << t << " * " << k
                         << " routed rows overflow a 64-bit size";
  if (!ShapedType::isDynamic(t) && !ShapedType::isDynamic(k) &&
      !ShapedType::isDynamic(n) && n != product)
    return emitOpError() << "permutation has " << n
                         << " entries, expected T * K = " << product;
  return success();
}

/// Checks the bound expert count against the 32-bit expert ids.
static LogicalResult verifyExpertCount(ShapeChecker &shapes) {
  int64_t experts = shapes.get("E");
  if (ShapedType::isDynamic(experts) || experts <= kMaxExperts)
    return success();
  return shapes.emitOpError() << "has " << experts << " experts; at most "
                              << kMaxExperts << " are supported";
}

/// Checks that the `N` rows agree with `T` tokens of `K` routed slots.
static LogicalResult verifyRowCount(ShapeChecker &shapes, int64_t topK) {
  int64_t t = shapes.get("T"), n = shapes.get("N");
  int64_t product = 0;
  if (!ShapedType::isDynamic(t) && llvm::MulOverflow(t, topK, product))
    return shapes.emitOpError() << "T * top_k = " << t << " * " << topK
                                << " routed rows overflow a 64-bit size";
  if (!ShapedType::isDynamic(t) && !ShapedType::isDynamic(n) && n != product)
    return shapes.emitOpError() << "has " << n << " routed rows, expected T * "
                                << "top_k = " << t << " * " << topK;
  return success();
}

LogicalResult ExpertsOp::verify() {
  ShapeChecker shapes(*this);
  Type gateUpBias = getGateUpBias() ? getGateUpBias().getType() : Type();
  Type downBias = getDownBias() ? getDownBias().getType() : Type();
  if (failed(shapes.check("input", getInput().getType(), {"T", "H"})) ||
      failed(shapes.check("permutation", getPermutation().getType(), {"N"})) ||
      failed(verifyFfnWeights(shapes, getFfn(), {"E"}, getGateUp().getType(),
                              getDown().getType(), gateUpBias, downBias, "")) ||
      failed(verifyExpertCount(shapes)) ||
      failed(shapes.bind("E", 0, "E+1", shapes.get("E") + 1)) ||
      failed(shapes.check("offsets", getOffsets().getType(), {"E+1"})) ||
      failed(shapes.check("result", getResult().getType(), {"N", "H"})))
    return failure();
  if (getRowScale() &&
      (failed(shapes.bind("top_k", 0, "K", getTopK())) ||
       failed(shapes.check("row_scale", getRowScale().getType(), {"T", "K"}))))
    return failure();
  if (failed(verifyRowCount(shapes, getTopK())))
    return failure();
  return verifySameElementTypes(shapes, getInput().getType(),
                                {{"gate_up", getGateUp().getType()},
                                 {"down", getDown().getType()},
                                 {"gate_up_bias", gateUpBias},
                                 {"down_bias", downBias}});
}

LogicalResult CombineOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("rows", getRows().getType(), {"N", "H"})) ||
      failed(shapes.check("permutation", getPermutation().getType(), {"N"})) ||
      failed(shapes.check("result", getResult().getType(), {"T", "H"})))
    return failure();
  if (getWeights() &&
      (failed(shapes.bind("top_k", 0, "K", getTopK())) ||
       failed(shapes.check("weights", getWeights().getType(), {"T", "K"}))))
    return failure();
  return verifyRowCount(shapes, getTopK());
}

/// Checks a shared expert's weights and its optional [1, H] sigmoid gate.
static LogicalResult verifySharedExpertWeights(ShapeChecker &shapes,
                                               FfnAttr ffn, Type gateUp,
                                               Type down, Type gate,
                                               StringRef prefix) {
  if (failed(verifyFfnWeights(shapes, ffn, {}, gateUp, down, Type(), Type(),
                              prefix)))
    return failure();
  if (!gate)
    return success();
  std::string name = (prefix + "gate").str();
  if (failed(shapes.check(name, gate, {"", "H"})))
    return failure();
  if (cast<RankedTensorType>(gate).getDimSize(0) != 1)
    return shapes.emitOpError()
           << name << " must be one row [1, H], got " << gate;
  return success();
}

LogicalResult SharedExpertOp::verify() {
  ShapeChecker shapes(*this);
  Type gate = getGate() ? getGate().getType() : Type();
  if (failed(shapes.check("input", getInput().getType(), {"T", "H"})) ||
      failed(verifySharedExpertWeights(shapes, getFfn(), getGateUp().getType(),
                                       getDown().getType(), gate, "")) ||
      failed(shapes.check("result", getResult().getType(), {"T", "H"})))
    return failure();
  // The result is the input's type, or f32 to be summed with the routed
  // experts before a single rounding.
  Type resultElement = getResult().getType().getElementType();
  if (!resultElement.isF32() &&
      failed(shapes.sameElementType("input", getInput().getType(), "result",
                                    getResult().getType())))
    return failure();
  return verifySameElementTypes(shapes, getInput().getType(),
                                {{"gate_up", getGateUp().getType()},
                                 {"down", getDown().getType()},
                                 {"gate", gate}});
}

SmallVector<int64_t> DequantizeOp::getScaleShape(ArrayRef<int64_t> shape,
                                                 ArrayRef<int64_t> block,
                                                 int64_t stacked) {
  int64_t rows = shape[shape.size() - 2], cols = shape.back();
  SmallVector<int64_t> scaleShape(shape.drop_back(2));
  scaleShape.push_back(stacked * llvm::divideCeil(rows / stacked, block[0]));
  scaleShape.push_back(llvm::divideCeil(cols, block[1]));
  return scaleShape;
}

LogicalResult DequantizeOp::verify() {
  auto quantized = getQuantized().getType();
  auto scale = getScale().getType();
  auto result = getResult().getType();
  if (!quantized.hasStaticShape() || !scale.hasStaticShape() ||
      !result.hasStaticShape())
    return emitOpError() << "takes static shapes";
  int64_t rank = result.getRank();
  if (rank < 2 || quantized.getRank() != rank || scale.getRank() != rank)
    return emitOpError() << "takes quantized values, scales and a result of "
                            "one rank, at least 2";
  ArrayRef<int64_t> block = getBlock();
  if (block.size() != 2 || block[0] <= 0 || block[1] <= 0)
    return emitOpError() << "block must be two positive sizes [rows, columns]";
  Type scaleElement = scale.getElementType();
  ArrayRef<int64_t> shape = result.getShape();
  SmallVector<int64_t> valueShape(shape);
  if (isPackedE2M1()) {
    if (!isa<Float8E8M0FNUType>(scaleElement))
      return emitOpError() << "of packed e2m1 values (i8) takes f8E8M0FNU "
                              "scales, not "
                           << scaleElement;
    if (shape.back() % 2)
      return emitOpError() << "of packed e2m1 values needs an even last "
                              "dimension, not "
                           << shape.back();
    valueShape.back() = shape.back() / 2;
  } else if (isa<Float8E8M0FNUType>(scaleElement)) {
    return emitOpError() << "of f8E4M3FN values takes f32 or bf16 scales";
  }
  if (quantized.getShape() != ArrayRef<int64_t>(valueShape))
    return emitOpError() << "quantized shape " << quantized
                         << " does not hold the result " << result
                         << (isPackedE2M1() ? " (two values per byte)" : "");
  int64_t rows = shape[rank - 2];
  int64_t stacked = getStacked();
  if (rows % stacked)
    return emitOpError() << "stacked " << stacked << " does not divide the "
                         << rows << " rows";
  SmallVector<int64_t> scaleShape = getScaleShape(shape, block, stacked);
  if (scale.getShape() != ArrayRef<int64_t>(scaleShape)) {
    InFlightDiagnostic diag = emitOpError()
                              << "scale shape " << scale << " must be [";
    llvm::interleaveComma(scaleShape, diag);
    return diag << "]: one scale per block of " << block[0] << " x " << block[1]
                << " in each of " << stacked << " stacked parts";
  }
  return success();
}

LogicalResult LayerOp::verify() {
  ShapeChecker shapes(*this);
  if (getType() != getInput().getType())
    return emitOpError() << "result type " << getType()
                         << " must equal the input type "
                         << getInput().getType();
  Type gateUpBias = getGateUpBias() ? getGateUpBias().getType() : Type();
  Type downBias = getDownBias() ? getDownBias().getType() : Type();
  if (failed(shapes.check("input", getInput().getType(), {"T", "H"})) ||
      failed(
          shapes.requireStatic("router_weight", getRouterWeight().getType())) ||
      failed(shapes.check("router_weight", getRouterWeight().getType(),
                          {"E", "H"})) ||
      failed(verifyFfnWeights(shapes, getFfn(), {"E"}, getGateUp().getType(),
                              getDown().getType(), gateUpBias, downBias, "")))
    return failure();
  if (getRouterBias() &&
      failed(shapes.check("router_bias", getRouterBias().getType(), {"E"})))
    return failure();
  if (getCorrectionBias() &&
      failed(shapes.check("correction_bias", getCorrectionBias().getType(),
                          {"E"})))
    return failure();
  if (failed(verifyRoutingForExperts(*this, getRouting(), shapes.get("E"),
                                     static_cast<bool>(getCorrectionBias()))))
    return failure();
  // The decomposition routes T * top_k rows.
  int64_t tokens = shapes.get("T"), routedRows = 0;
  if (!ShapedType::isDynamic(tokens) &&
      llvm::MulOverflow(tokens, int64_t(getRouting().getTopK()), routedRows))
    return emitOpError() << "T * top_k = " << tokens << " * "
                         << getRouting().getTopK()
                         << " routed rows overflow a 64-bit size";

  // A shared expert needs both projections; its gate is optional.
  if (static_cast<bool>(getSharedGateUp()) !=
      static_cast<bool>(getSharedDown()))
    return emitOpError() << "shared_gate_up and shared_down come together";
  if (getSharedGate() && !getSharedGateUp())
    return emitOpError() << "shared_gate needs a shared expert";
  if (getSharedGateUp()) {
    // The shared expert has its own intermediate size: a fresh checker that
    // only knows H.
    ShapeChecker sharedShapes(*this);
    Type gate = getSharedGate() ? getSharedGate().getType() : Type();
    if (failed(sharedShapes.bind("input", 1, "H", shapes.get("H"))) ||
        failed(verifySharedExpertWeights(
            sharedShapes, getFfn(), getSharedGateUp().getType(),
            getSharedDown().getType(), gate, "shared_")))
      return failure();
  }
  auto typeOf = [](Value v) { return v ? v.getType() : Type(); };
  return verifySameElementTypes(shapes, getInput().getType(),
                                {{"router_weight", getRouterWeight().getType()},
                                 {"router_bias", typeOf(getRouterBias())},
                                 {"gate_up", getGateUp().getType()},
                                 {"down", getDown().getType()},
                                 {"gate_up_bias", gateUpBias},
                                 {"down_bias", downBias},
                                 {"shared_gate_up", typeOf(getSharedGateUp())},
                                 {"shared_down", typeOf(getSharedDown())},
                                 {"shared_gate", typeOf(getSharedGate())}});
}

#define GET_OP_CLASSES
#include "dialect/Moe/MoeOps.cpp.inc"
