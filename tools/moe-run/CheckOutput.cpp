//===- CheckOutput.cpp - moe-run --check against the fp64 reference ------===//

#include "CheckOutput.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>

using mlir::moe::DType;

namespace moe {

Tolerance toleranceFor(DType dtype) {
  // The floor is the dtype's smallest normal number: an f16 token whose
  // outputs are ~1e-7 has subnormal intermediates, which hold fewer bits.
  switch (dtype) {
  case DType::F32:
    return {1e-5, 2e-5, 0x1p-126};
  case DType::F16:
    return {4e-3, 2e-3, 0x1p-14};
  case DType::BF16:
    return {2e-2, 1e-2, 0x1p-126};
  default:
    llvm_unreachable("not a compute dtype");
  }
}

bool checkOutput(const HostTensor &output, const ref::ReferenceResult &expected,
                 DType dtype, int64_t hidden, llvm::raw_ostream &os) {
  Tolerance tol = toleranceFor(dtype);
  int64_t tokenCount = output.shape[0];
  double maxAbs = 0, worstRatio = -1, worstError = 0, worstScale = 0;
  int64_t compared = 0, violations = 0, skipped = 0, badTokens = 0;
  int64_t worstToken = -1, worstElement = -1;
  for (int64_t t = 0; t < tokenCount; ++t) {
    // A token whose expert choice hangs on a margin below rounding noise may
    // legitimately pick another expert in f32: it is reported, not compared.
    if (expected.nearTie[t]) {
      ++skipped;
      continue;
    }
    const double *ref = &expected.output[t * hidden];
    const float *got = &output.data[t * hidden];
    double scale = 0;
    for (int64_t h = 0; h < hidden; ++h)
      scale = std::max(scale, std::fabs(ref[h]));
    double atolScale = std::max(scale, tol.floor);
    int64_t before = violations;
    for (int64_t h = 0; h < hidden; ++h) {
      double err = std::fabs(got[h] - ref[h]);
      double allowed = tol.rtol * std::fabs(ref[h]) + tol.atol * atolScale;
      ++compared;
      maxAbs = std::max(maxAbs, err);
      // The share of its tolerance an element uses (allowed > 0: the floor);
      // a NaN or infinite output counts as the worst and fails below.
      double ratio = std::isnan(err) ? HUGE_VAL : err / allowed;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worstToken = t;
        worstElement = h;
        worstError = err;
        worstScale = scale;
      }
      if (!(err <= allowed))
        ++violations;
    }
    badTokens += violations != before;
  }
  os << llvm::format("check: max abs error %.3g; tolerance per token: rtol "
                     "%.1g, atol %.1g * max|ref| of the token (at least "
                     "%.2g)\n",
                     maxAbs, tol.rtol, tol.atol, tol.floor);
  if (worstToken >= 0)
    os << llvm::format("check: worst token %lld (max|ref| %.4g): element "
                       "%lld off by %.3g = %.3g of the token's max|ref|, %.3g "
                       "of its tolerance\n",
                       static_cast<long long>(worstToken), worstScale,
                       static_cast<long long>(worstElement), worstError,
                       worstScale > 0 ? worstError / worstScale : worstError,
                       worstRatio);
  os << "check: " << compared << " values compared, " << violations
     << " beyond tolerance, " << skipped << " near-tie tokens skipped\n";
  if (badTokens)
    os << "check: " << badTokens << " of " << tokenCount - skipped
       << " compared tokens beyond tolerance\n";
  bool ok = violations == 0 && compared > 0;
  os << "check: " << (ok ? "PASS" : "FAIL") << "\n";
  return ok;
}

} // namespace moe
