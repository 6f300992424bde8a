//===- KernelAttrs.cpp - verifiers of the kernel passes' attributes -------===//

#include "moe/Dialect/KernelAttrs.h"
#include "moe/Dialect/MoeDialect.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::moe;

//===----------------------------------------------------------------------===//
// Formulas in T
//===----------------------------------------------------------------------===//

namespace {

std::optional<std::string> whyNotFormula(AffineExpr expr) {
  if (isa<AffineConstantExpr, AffineDimExpr>(expr))
    return std::nullopt;
  auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!binary)
    return std::string("it uses a symbol");
  auto rhs = dyn_cast<AffineConstantExpr>(binary.getRHS());
  switch (expr.getKind()) {
  case AffineExprKind::Add:
    break;
  case AffineExprKind::Mul:
    if (!rhs)
      return std::string("it multiplies by a non-constant");
    break;
  case AffineExprKind::CeilDiv:
    if (!rhs || rhs.getValue() <= 0)
      return std::string("it divides by a non-positive or non-constant value");
    break;
  default:
    return std::string("the manifest has no floordiv or mod");
  }
  if (auto why = whyNotFormula(binary.getLHS()))
    return why;
  return whyNotFormula(binary.getRHS());
}

/// Binding strength of a printed formula's outermost operator.
enum class Level { Atom, Product, Sum };

struct Printed {
  Level level;
  std::string text;
  std::string at(Level most) const {
    return level <= most ? text : "(" + text + ")";
  }
};

/// The manifest has no unary minus: -x is 0-x.
Printed negated(const Printed &x) {
  return {Level::Sum, "0-" + x.at(Level::Product)};
}

Printed print(AffineExpr expr) {
  if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
    int64_t v = constant.getValue();
    if (v < 0)
      return negated({Level::Atom, std::to_string(-v)});
    return {Level::Atom, std::to_string(v)};
  }
  if (isa<AffineDimExpr>(expr))
    return {Level::Atom, "T"};
  auto binary = cast<AffineBinaryOpExpr>(expr);
  Printed lhs = print(binary.getLHS());
  auto rhsConstant = dyn_cast<AffineConstantExpr>(binary.getRHS());
  switch (expr.getKind()) {
  case AffineExprKind::Add: {
    // a + x * -c and a + -c print as a - x * c and a - c.
    AffineExpr rhs = binary.getRHS();
    if (rhsConstant && rhsConstant.getValue() < 0)
      return {Level::Sum, lhs.at(Level::Sum) + "-" +
                              std::to_string(-rhsConstant.getValue())};
    if (auto product = dyn_cast<AffineBinaryOpExpr>(rhs);
        product && product.getKind() == AffineExprKind::Mul)
      if (auto factor = dyn_cast<AffineConstantExpr>(product.getRHS());
          factor && factor.getValue() < 0) {
        AffineExpr positive = product.getLHS() * -factor.getValue();
        return {Level::Sum,
                lhs.at(Level::Sum) + "-" + print(positive).at(Level::Product)};
      }
    return {Level::Sum,
            lhs.at(Level::Sum) + "+" + print(rhs).at(Level::Product)};
  }
  case AffineExprKind::Mul: {
    int64_t factor = rhsConstant.getValue();
    if (factor < 0)
      return negated(print(binary.getLHS() * -factor));
    return {Level::Product,
            lhs.at(Level::Product) + "*" + std::to_string(factor)};
  }
  default: // CeilDiv, the one other kind whyNotFormula accepts
    return {Level::Atom, "ceildiv(" + lhs.text + "," +
                             std::to_string(rhsConstant.getValue()) + ")"};
  }
}

} // namespace

std::optional<std::string> mlir::moe::whyNotManifestFormulas(AffineMap map) {
  if (map.getNumDims() != 1 || map.getNumSymbols() != 0)
    return std::string("it is not a map from one dimension, T");
  for (AffineExpr result : map.getResults())
    if (auto why = whyNotFormula(result))
      return why;
  return std::nullopt;
}

std::string mlir::moe::printManifestFormula(AffineExpr expr) {
  return print(expr).text;
}

//===----------------------------------------------------------------------===//
// TilesAttr
//===----------------------------------------------------------------------===//

LogicalResult
TilesAttr::verifyEntry(function_ref<InFlightDiagnostic()> emitError,
                       StringRef key, int64_t value) {
  if (value <= 0)
    return emitError() << "must be a positive integer";
  // A block has at most 1024 threads.
  if (key.ends_with("_warps") && value > 32)
    return emitError() << "must be at most 32 warps";
  // moe-form-kernels unrolls the staging pipeline by its stages.
  if (key.ends_with("_stages") && value > 8)
    return emitError() << "must be at most 8 stages";
  if (key == "launches" && value != 3 && value != 4)
    return emitError() << "must be 3 or 4";
  if (key == "cpu_lanes" && (value > 64 || !llvm::isPowerOf2_64(value)))
    return emitError() << "must be a power of two up to 64";
  if (key == "cpu_bf16_dot" && value != 1)
    return emitError() << "must be 1 (absent: no pair dot products)";
  return success();
}

LogicalResult TilesAttr::verify(
    function_ref<InFlightDiagnostic()> emitError,
    std::optional<int64_t> routeTokens, std::optional<int64_t> routerExperts,
    std::optional<int64_t> expertRows, std::optional<int64_t> gateUpColumns,
    std::optional<int64_t> downColumns, std::optional<int64_t> combineTokens,
    std::optional<int64_t> gateUpWarps, std::optional<int64_t> downWarps,
    std::optional<int64_t> gateUpStages, std::optional<int64_t> downStages,
    std::optional<int64_t> launches, std::optional<int64_t> sharedExpertRows,
    std::optional<int64_t> sharedGateUpColumns,
    std::optional<int64_t> sharedDownColumns,
    std::optional<int64_t> sharedGateUpWarps,
    std::optional<int64_t> sharedDownWarps,
    std::optional<int64_t> sharedGateUpStages,
    std::optional<int64_t> sharedDownStages, std::optional<int64_t> cpuLanes,
    std::optional<int64_t> cpuBf16Dot) {
  std::pair<StringRef, std::optional<int64_t>> entries[] = {
      {"route_tokens", routeTokens},
      {"router_experts", routerExperts},
      {"expert_rows", expertRows},
      {"gate_up_columns", gateUpColumns},
      {"down_columns", downColumns},
      {"combine_tokens", combineTokens},
      {"gate_up_warps", gateUpWarps},
      {"down_warps", downWarps},
      {"gate_up_stages", gateUpStages},
      {"down_stages", downStages},
      {"launches", launches},
      {"shared_expert_rows", sharedExpertRows},
      {"shared_gate_up_columns", sharedGateUpColumns},
      {"shared_down_columns", sharedDownColumns},
      {"shared_gate_up_warps", sharedGateUpWarps},
      {"shared_down_warps", sharedDownWarps},
      {"shared_gate_up_stages", sharedGateUpStages},
      {"shared_down_stages", sharedDownStages},
      {"cpu_lanes", cpuLanes},
      {"cpu_bf16_dot", cpuBf16Dot}};
  for (auto [key, value] : entries) {
    auto entryError = [&, key = key] {
      return emitError() << "tile entry '" << key << "' ";
    };
    if (value && failed(verifyEntry(entryError, key, *value)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// KernelAbiAttr
//===----------------------------------------------------------------------===//

LogicalResult
KernelAbiAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      StringAttr kernel, ArrayAttr params, AffineMap grid,
                      DenseI64ArrayAttr block, int64_t sharedMemory) {
  if (!kernel || kernel.getValue().empty())
    return emitError() << "a kernel ABI needs the kernel's name";
  if (!params || !llvm::all_of(params, llvm::IsaPred<StringAttr>))
    return emitError() << "a kernel ABI's params must be strings";
  if (grid.getNumResults() != 3)
    return emitError() << "a kernel ABI's grid must have 3 results (x, y, z)";
  if (auto why = whyNotManifestFormulas(grid))
    return emitError() << "a kernel ABI's grid is not a formula in T: " << *why;
  if (block) {
    int64_t threads = 1;
    bool sizesOk = block.size() == 3 &&
                   llvm::all_of(block.asArrayRef(), [&](int64_t size) {
                     threads *= size;
                     return size >= 1 && size <= 1024;
                   });
    if (!sizesOk || threads > 1024)
      return emitError() << "a kernel ABI's block must be 3 positive sizes "
                            "of at most 1024 threads in all";
  }
  if (sharedMemory < 0)
    return emitError() << "a kernel ABI's shared memory must not be negative";
  return success();
}

std::array<int64_t, 3> KernelAbiAttr::getBlockSizes() const {
  std::array<int64_t, 3> sizes = {1, 1, 1};
  if (DenseI64ArrayAttr block = getBlock())
    llvm::copy(block.asArrayRef(), sizes.begin());
  return sizes;
}

//===----------------------------------------------------------------------===//
// BufferAttr
//===----------------------------------------------------------------------===//

LogicalResult BufferAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringAttr name, StringAttr kind,
                                 MemRefType type, AffineMap shape,
                                 bool zeroInit) {
  if (!name || name.getValue().empty())
    return emitError() << "a buffer needs a name";
  if (!kind || !llvm::is_contained({"input", "weight", "output", "workspace"},
                                   kind.getValue()))
    return emitError()
           << "a buffer's kind must be input, weight, output or workspace";
  if (!type || !type.getLayout().isIdentity())
    return emitError() << "a buffer's type must be a memref with the "
                          "identity layout";
  if (shape.getNumResults() != static_cast<unsigned>(type.getRank()))
    return emitError() << "buffer '" << name.getValue() << "' has "
                       << shape.getNumResults() << " sizes for rank "
                       << type.getRank();
  if (auto why = whyNotManifestFormulas(shape))
    return emitError() << "the shape of buffer '" << name.getValue()
                       << "' is not a formula in T: " << *why;
  for (auto [size, result] : llvm::zip(type.getShape(), shape.getResults())) {
    auto constant = dyn_cast<AffineConstantExpr>(result);
    if (!ShapedType::isDynamic(size) &&
        (!constant || constant.getValue() != size))
      return emitError() << "the shape of buffer '" << name.getValue()
                         << "' disagrees with its static size " << size;
  }
  return success();
}
