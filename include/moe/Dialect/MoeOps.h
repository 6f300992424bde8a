//===- MoeOps.h - moe operations --------------------------------*- C++ -*-===//

#ifndef MOE_DIALECT_MOEOPS_H
#define MOE_DIALECT_MOEOPS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "moe/Dialect/MoeDialect.h"

#define GET_OP_CLASSES
#include "dialect/Moe/MoeOps.h.inc"

#endif // MOE_DIALECT_MOEOPS_H
