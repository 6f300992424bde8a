//===- MoeOps.h - moe operations ------------------------------*- C++ -*-===//

#ifndef MOE_DIALECT_MOEOPS_H
#define MOE_DIALECT_MOEOPS_H

#include "moe/Dialect/MoeDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/Moe/MoeOps.h.inc"

#endif // MOE_DIALECT_MOEOPS_H
