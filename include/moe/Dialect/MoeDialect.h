//===- MoeDialect.h - the moe dialect, its enums and attributes -*- C++ -*-===//

#ifndef MOE_DIALECT_MOEDIALECT_H
#define MOE_DIALECT_MOEDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include <array>
#include <optional>

#include "dialect/Moe/MoeDialect.h.inc"
#include "dialect/Moe/MoeEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/Moe/MoeAttrs.h.inc"

#endif // MOE_DIALECT_MOEDIALECT_H
