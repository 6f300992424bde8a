//===- LayerProfile.h - moe-run --profile: kernels and a roofline --*- C++
//-*-===//
//
// The emulator's per-launch counts (moert_layer_emu_profile_json) joined
// with what the layer needs at least (its active experts' weights once,
// the router, activations in and out) and a roofline estimate per GPU. The
// keys are defined in docs/emulator-profile.md.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_LAYERPROFILE_H
#define MOE_TOOLS_MOE_RUN_LAYERPROFILE_H

#include "moe/Reference/LayerConfig.h"

#include "moe-support/DType.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

/// {"kernels": [...], "layer": {...}} from the emulator's `kernelsJson`
/// for `tokens` tokens of the layer `cfg` in `dtype`, whose tokens went to
/// the experts as `expertTokens` counts.
llvm::Expected<std::string>
layerProfileJson(const std::string &kernelsJson, const ref::LayerConfig &cfg,
                 support::DType dtype, int64_t tokens,
                 const std::vector<int64_t> &expertTokens);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_LAYERPROFILE_H
