//===- CheckOutput.h - moe-run --check: output against the fp64 reference -===//
//
// The tolerance rule of `moe-run --check` (and of the lit helper
// test/Integration/CPU/Inputs/compare_safetensors.py, which applies the same
// rule): every element of token t must satisfy
//
//   |y[t,h] - r[t,h]| <= rtol * |r[t,h]| + atol * max(max_h |r[t,h]|, floor)
//
// so each token is judged against its own magnitude, never the batch's
// largest token (floor: the dtype's smallest normal number).
// docs/cpu-execution.md gives the figures and their headroom.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUN_CHECKOUTPUT_H
#define MOE_RUN_CHECKOUTPUT_H

#include "moe/Import/ModelDesc.h"
#include "moe/Reference/Reference.h"

#include "llvm/Support/raw_ostream.h"

namespace moe {

struct Tolerance {
  double rtol, atol;
  /// The smallest token magnitude atol scales with.
  double floor;
};

/// The model dtype's tolerance. Accumulation is f32 everywhere, so the
/// dtype's roundings (inputs of each GEMM, the output) dominate.
Tolerance toleranceFor(mlir::moe::DType dtype);

/// Compares `output` [T, hidden] with the reference, skipping near-tie
/// tokens, and prints the figures and the worst token to `os`; false when
/// any compared element is beyond tolerance (or nothing was compared).
bool checkOutput(const HostTensor &output, const ref::ReferenceResult &expected,
                 mlir::moe::DType dtype, int64_t hidden, llvm::raw_ostream &os);

} // namespace moe

#endif // MOE_RUN_CHECKOUTPUT_H
