//===- EmulatorApi.h - calls through the emulator library's table -*- C++
//-*-===//
//
// The library side of moert_emu_abi.h: the function table the runtime fills,
// the site names for its messages, and the version it checks.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORAPI_H
#define MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORAPI_H

#include "moert/moert_emu_abi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::moe {

class EmulatorApi {
public:
  /// Declares `@__moe_emu_api` in `module` (a symbol table).
  explicit EmulatorApi(Operation *module);

  /// Calls slot `slot` with `args`, before `b`'s insertion point; returns
  /// the result, or null for a void `result`.
  Value call(OpBuilder &b, Location loc, moert_emu_slot slot, Type result,
             ValueRange args);

  /// A new site for `op`: "<what> #<k> in <function> at <file:line:col>",
  /// k counting `what` in the function. Returns its index as an i32
  /// constant built at `b`'s insertion point.
  Value site(OpBuilder &b, Operation *op, llvm::StringRef what);

  /// Defines `@__moe_emu_sites`, `@__moe_emu_num_sites` and
  /// `@__moe_emu_abi_version`. Called once, after the last site().
  void finish();

private:
  Operation *module;
  std::vector<std::string> sites;
  /// Per function and kind of operation, how many sites it has so far.
  std::map<std::pair<std::string, std::string>, unsigned> counts;
};

} // namespace mlir::moe

#endif // MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORAPI_H
