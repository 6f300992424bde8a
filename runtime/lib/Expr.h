//===- Expr.h - The manifest's size formulas --------------------*- C++ -*-===//
//
// The formula grammar lives in the support library (moe-support/Formula.h),
// shared with the compiler's verifier; moert calls a formula an Expr and
// reports its failures as MOERT_ERROR_MANIFEST (Error.h converts).
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_EXPR_H
#define MOERT_EXPR_H

#include "Error.h"

#include "moe-support/Formula.h"

namespace moert {
using Expr = moe::support::Formula;
} // namespace moert

#endif // MOERT_EXPR_H
