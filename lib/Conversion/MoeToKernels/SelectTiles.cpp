//===- SelectTiles.cpp - the moe-select-tiles pass ------------------------===//
//
// Writes `moe.tiles` on each decomposed layer's moe.combine: the cost
// model's choice (TileModel), overridden by a matching entry of a JSON
// tuning file. See Passes.td and docs/tile-selection.md.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToLinalg/Builders.h"
#include "moe/Dialect/MoeOps.h"
#include "moe/Json/InputFile.h"
#include "moe/Json/JsonDocument.h"
#include "moe/Transforms/CpuTarget.h"
#include "moe/Transforms/Passes.h"
#include "moe/Transforms/TileModel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/SourceMgr.h"

#include <limits>
#include <map>

namespace mlir::moe {
#define GEN_PASS_DEF_MOESELECTTILES
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// One tuning-file entry: the shape keys it names must match (absent keys
/// match anything), then its tiles replace the model's, key by key.
struct TuningEntry {
  std::map<std::string, int64_t> shape;
  std::string target; // empty: any
  int64_t minTokens = 1, maxTokens = std::numeric_limits<int64_t>::max();
  std::vector<std::pair<std::string, int64_t>> tiles;
};

const char *const kShapeKeys[] = {"hidden", "experts", "top_k", "intermediate"};

/// A GPU expert kernel whose rows or columns `entry` sets, but not its
/// warps, takes the model's warps for its tile: the model's own were for
/// its own tile (a 64-column shared_down from a tuning file kept the 2
/// warps the model gave its 32 columns of 8 rows, where 64 take 4).
void recomputeWarps(const TuningEntry &entry, TileChoice &choice) {
  auto sets = [&](StringRef key) {
    return llvm::any_of(entry.tiles,
                        [&](const auto &tile) { return tile.first == key; });
  };
  struct Kernel {
    const char *rowsKey, *columnsKey, *warpsKey;
    int64_t TileChoice::*rows, TileChoice::*columns, TileChoice::*warps;
  };
  const Kernel kernels[] = {
      {"expert_rows", "gate_up_columns", "gate_up_warps",
       &TileChoice::expertRows, &TileChoice::gateUpColumns,
       &TileChoice::gateUpWarps},
      {"expert_rows", "down_columns", "down_warps", &TileChoice::expertRows,
       &TileChoice::downColumns, &TileChoice::downWarps},
      {"shared_expert_rows", "shared_gate_up_columns", "shared_gate_up_warps",
       &TileChoice::sharedExpertRows, &TileChoice::sharedGateUpColumns,
       &TileChoice::sharedGateUpWarps},
      {"shared_expert_rows", "shared_down_columns", "shared_down_warps",
       &TileChoice::sharedExpertRows, &TileChoice::sharedDownColumns,
       &TileChoice::sharedDownWarps},
  };
  for (const Kernel &k : kernels)
    if ((sets(k.rowsKey) || sets(k.columnsKey)) && !sets(k.warpsKey) &&
        choice.*k.rows > 0 && choice.*k.columns > 0)
      choice.*k.warps = expertKernelWarps(choice.*k.rows, choice.*k.columns);
}

/// Whether `target` names a target moe-select-tiles knows.
bool isKnownTarget(StringRef target) {
  return target == "cpu" || lookupGpuTarget(target).has_value();
}

/// Reads a parsed tuning file's entries; every problem is reported at its
/// JSON path and reading goes on, so one run lists them all.
class TuningFileReader {
public:
  explicit TuningFileReader(JsonDocument &doc) : doc(doc) {}

  FailureOr<std::vector<TuningEntry>> read() {
    const Json &root = doc.root();
    if (!root.is_object() || !root.contains("entries") ||
        !root["entries"].is_array() || root.size() != 1) {
      doc.emitError("") << "a tuning file is {\"entries\": [...]}";
      return failure();
    }
    std::vector<TuningEntry> entries;
    for (size_t i = 0; i < root["entries"].size(); ++i)
      entries.push_back(
          readEntry(root["entries"][i], "entries[" + std::to_string(i) + "]"));
    if (!ok)
      return failure();
    return entries;
  }

private:
  /// An error at `where`; the file is refused.
  InFlightDiagnostic error(const std::string &where) {
    ok = false;
    return doc.emitError(where);
  }

  bool positive(const Json &v, const std::string &where, int64_t &out) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1) {
      error(where) << "must be a positive integer";
      return false;
    }
    out = v.get<int64_t>();
    return true;
  }

  TuningEntry readEntry(const Json &e, const std::string &at) {
    TuningEntry entry;
    if (!e.is_object()) {
      error(at) << "an entry is an object";
      return entry;
    }
    for (auto it = e.begin(); it != e.end(); ++it) {
      std::string key = it.key(), where = at + "." + key;
      if (llvm::is_contained(kShapeKeys, key)) {
        int64_t v;
        if (positive(*it, where, v))
          entry.shape[key] = v;
      } else if (key == "target") {
        if (!it->is_string() || !isKnownTarget(it->get<std::string>()))
          error(where) << "must be \"sm_80\", \"sm_90\" or \"cpu\"";
        else
          entry.target = it->get<std::string>();
      } else if (key == "min_tokens") {
        positive(*it, where, entry.minTokens);
      } else if (key == "max_tokens") {
        positive(*it, where, entry.maxTokens);
      } else if (key == "tiles") {
        readTiles(*it, where, entry);
      } else {
        error(where)
            << "unknown key (expected hidden, experts, top_k, intermediate, "
               "target, min_tokens, max_tokens, tiles)";
      }
    }
    if (!e.contains("tiles"))
      error(at) << "an entry needs \"tiles\"";
    if (entry.minTokens > entry.maxTokens)
      error(at) << "min_tokens is above max_tokens";
    return entry;
  }

  void readTiles(const Json &tiles, const std::string &where,
                 TuningEntry &entry) {
    if (!tiles.is_object() || tiles.empty()) {
      error(where) << "must be a non-empty object";
      return;
    }
    TileChoice known; // for the valid tile keys
    for (auto t = tiles.begin(); t != tiles.end(); ++t) {
      std::string at = where + "." + t.key();
      int64_t v;
      if (!known.set(t.key(), 1)) {
        error(at) << "unknown tile key";
        continue;
      }
      if (!positive(*t, at, v))
        continue;
      // The bounds #moe.tiles keeps.
      if (succeeded(
              TilesAttr::verifyEntry([&] { return error(at); }, t.key(), v)))
        entry.tiles.emplace_back(t.key(), v);
    }
  }

  JsonDocument &doc;
  bool ok = true;
};

/// Reads the tuning file at `path`.
FailureOr<std::vector<TuningEntry>> readTuningFile(StringRef path,
                                                   MLIRContext *ctx) {
  std::string error;
  auto file = mlir::moe::openRegularInputFile(path, &error);
  if (!file) {
    emitError(UnknownLoc::get(ctx)) << "tuning file: " << error;
    return failure();
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, ctx);
  std::unique_ptr<JsonDocument> doc = JsonDocument::parse(sourceMgr, ctx);
  if (!doc)
    return failure();
  return TuningFileReader(*doc).read();
}

struct MoeSelectTilesPass
    : public moe::impl::MoeSelectTilesBase<MoeSelectTilesPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *ctx) override {
    if (!isKnownTarget(target))
      return emitError(UnknownLoc::get(ctx))
             << "moe-select-tiles: unknown target '" << target
             << "' (sm_80, sm_90 or cpu)";
    if (tokens < 1)
      return emitError(UnknownLoc::get(ctx))
             << "moe-select-tiles: tokens must be positive";
    std::string error;
    std::optional<CpuTarget> parsed = parseCpuTarget(cpu, error);
    if (!parsed)
      return emitError(UnknownLoc::get(ctx)) << "moe-select-tiles: " << error;
    cpuTarget = *parsed;
    if (tuningFile.empty())
      return success();
    FailureOr<std::vector<TuningEntry>> read = readTuningFile(tuningFile, ctx);
    if (failed(read))
      return failure();
    entries = std::move(*read);
    return success();
  }

  void runOnOperation() override {
    std::optional<GpuTarget> gpu = lookupGpuTarget(target);
    bool failedChoice = false;
    getOperation().walk([&](CombineOp combine) {
      auto experts = combine.getRows().getDefiningOp<ExpertsOp>();
      if (!experts || combine->hasAttr(MoeDialect::kTilesAttrName))
        return;
      auto down = cast<RankedTensorType>(experts.getDown().getType());
      LayerShape shape;
      shape.experts = down.getDimSize(0);
      shape.hidden = down.getDimSize(1);
      shape.intermediate = down.getDimSize(2);
      shape.topK = combine.getTopK();
      shape.weightBytes =
          std::max<int64_t>(down.getElementTypeBitWidth() / 8, 1);
      shape.dequantized = isDequantized(experts.getDown());
      shape.fp8ActivationGroup = experts.getFfn().getFp8ActivationGroup();
      // The shared expert added to the combine.
      if (combine->hasOneUse())
        if (auto sum = dyn_cast<arith::AddFOp>(*combine->user_begin()))
          for (Value operand : sum->getOperands())
            if (auto shared = operand.getDefiningOp<SharedExpertOp>())
              shape.sharedIntermediate =
                  cast<RankedTensorType>(shared.getDown().getType())
                      .getDimSize(1);
      TileChoice choice =
          gpu ? selectTiles(shape, *gpu, tokens)
              : selectCpuTiles(shape, cpuTarget.lanes(), cpuTarget.bf16Dot());
      if (const TuningEntry *entry = match(shape)) {
        for (auto &[key, value] : entry->tiles)
          choice.set(key, value);
        if (gpu)
          recomputeWarps(*entry, choice);
      }
      // The CPU form (one thread per block, vector loops) is no GPU
      // kernel: a tuning file's cpu_lanes would turn the emitted kernels
      // into it.
      if (gpu && choice.cpuLanes) {
        combine.emitError("moe-select-tiles: cpu_lanes is for the cpu "
                          "target, not ")
            << target;
        failedChoice = true;
        return;
      }
      // A tuning file's pair dot products run only where the CPU has them.
      if (choice.cpuBf16Dot && (gpu || !cpuTarget.bf16Dot() ||
                                choice.cpuLanes < 4 || choice.cpuLanes > 16)) {
        combine.emitError("moe-select-tiles: cpu_bf16_dot needs the cpu "
                          "target on a CPU with AVX512-BF16 and cpu_lanes "
                          "4, 8 or 16");
        failedChoice = true;
        return;
      }
      // The shared expert's entries only where it has them.
      auto shared = [](int64_t v) {
        return v ? std::optional<int64_t>(v) : std::nullopt;
      };
      combine->setAttr(
          MoeDialect::kTilesAttrName,
          TilesAttr::get(
              combine.getContext(), choice.routeTokens, choice.routerExperts,
              choice.expertRows, choice.gateUpColumns, choice.downColumns,
              choice.combineTokens, choice.gateUpWarps, choice.downWarps,
              choice.gateUpStages, choice.downStages, choice.launches,
              shared(choice.sharedExpertRows),
              shared(choice.sharedGateUpColumns),
              shared(choice.sharedDownColumns),
              shared(choice.sharedGateUpWarps), shared(choice.sharedDownWarps),
              shared(choice.sharedGateUpStages),
              shared(choice.sharedDownStages), shared(choice.cpuLanes),
              shared(choice.cpuBf16Dot)));
    });
    if (failedChoice)
      signalPassFailure();
  }

  /// The first entry that matches, or null.
  const TuningEntry *match(const LayerShape &shape) const {
    std::map<std::string, int64_t> actual = {
        {"hidden", shape.hidden},
        {"experts", shape.experts},
        {"top_k", shape.topK},
        {"intermediate", shape.intermediate}};
    for (const TuningEntry &entry : entries) {
      bool fits = (entry.target.empty() || entry.target == target) &&
                  entry.minTokens <= tokens && tokens <= entry.maxTokens;
      for (auto &[key, value] : entry.shape)
        fits &= actual[key] == value;
      if (fits)
        return &entry;
    }
    return nullptr;
  }

  std::vector<TuningEntry> entries;
  /// What target=cpu chooses for (the `cpu` option).
  CpuTarget cpuTarget;
};

} // namespace
