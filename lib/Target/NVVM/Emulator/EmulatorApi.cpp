//===- EmulatorApi.cpp - calls through the emulator library's table -------===//
//
// The runtime fills `@__moe_emu_api` after dlopen(), so the library needs no
// symbol of moert and loads with a static or a shared runtime alike. Each
// call loads its slot again: the table is written after the code was
// compiled, and a load per call costs nothing next to a fiber switch.
//
//===----------------------------------------------------------------------===//

#include "EmulatorApi.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::moe;

static constexpr llvm::StringLiteral kSiteStringPrefix = "__moe_emu_site_";

namespace {

LLVM::LLVMArrayType tableType(MLIRContext *ctx) {
  return LLVM::LLVMArrayType::get(LLVM::LLVMPointerType::get(ctx),
                                  MOERT_EMU_NUM_SLOTS);
}

/// A global whose initializer region `fill` builds; returns the value.
LLVM::GlobalOp defineGlobal(OpBuilder &b, Location loc, Type type,
                            bool constant, llvm::StringRef name,
                            function_ref<Value(OpBuilder &)> fill) {
  auto global = LLVM::GlobalOp::create(
      b, loc, type, constant, LLVM::Linkage::External, name, Attribute());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&global.getInitializerRegion().emplaceBlock());
  LLVM::ReturnOp::create(b, loc, fill(b));
  return global;
}

/// "file:line:col" of the first file location in `loc`.
std::string describe(Location loc) {
  std::string text = "unknown location";
  loc->walk([&](Location inner) {
    auto file = dyn_cast<FileLineColLoc>(inner);
    if (!file)
      return WalkResult::advance();
    text = llvm::formatv("{0}:{1}:{2}", file.getFilename().getValue(),
                         file.getLine(), file.getColumn());
    return WalkResult::interrupt();
  });
  return text;
}

} // namespace

EmulatorApi::EmulatorApi(Operation *module) : module(module) {
  MLIRContext *ctx = module->getContext();
  OpBuilder b(ctx);
  b.setInsertionPointToStart(&module->getRegion(0).front());
  Location loc = module->getLoc();
  defineGlobal(b, loc, tableType(ctx), /*constant=*/false, MOERT_EMU_API_SYMBOL,
               [&](OpBuilder &b) -> Value {
                 return LLVM::ZeroOp::create(b, loc, tableType(ctx));
               });
}

Value EmulatorApi::call(OpBuilder &b, Location loc, moert_emu_slot slot,
                        Type result, ValueRange args) {
  MLIRContext *ctx = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Value table = LLVM::AddressOfOp::create(b, loc, ptr, MOERT_EMU_API_SYMBOL);
  Value entry = LLVM::GEPOp::create(
      b, loc, ptr, tableType(ctx), table,
      ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(slot)});
  Value callee = LLVM::LoadOp::create(b, loc, ptr, entry);
  auto type = LLVM::LLVMFunctionType::get(result ? result
                                                 : LLVM::LLVMVoidType::get(ctx),
                                          llvm::to_vector(args.getTypes()));
  SmallVector<Value> operands = {callee};
  llvm::append_range(operands, args);
  auto call = LLVM::CallOp::create(b, loc, type, operands);
  return result ? call.getResult() : Value();
}

Value EmulatorApi::site(OpBuilder &b, Operation *op, llvm::StringRef what) {
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  std::string function = func ? func.getName().str() : "?";
  unsigned k = counts[{function, what.str()}]++;
  sites.push_back(llvm::formatv("{0} #{1} in {2} at {3}", what, k, function,
                                describe(op->getLoc())));
  return LLVM::ConstantOp::create(b, op->getLoc(), b.getI32Type(),
                                  static_cast<int64_t>(sites.size() - 1));
}

void EmulatorApi::finish() {
  MLIRContext *ctx = module->getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i32 = IntegerType::get(ctx, 32);
  Location loc = module->getLoc();
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(&module->getRegion(0).front());

  // One string per site, even where two read alike: the runtime tells
  // barriers apart by their index, and the texts are short.
  SmallVector<LLVM::GlobalOp> strings;
  for (auto [i, text] : llvm::enumerate(sites)) {
    std::string bytes = text + '\0';
    auto type =
        LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), bytes.size());
    strings.push_back(LLVM::GlobalOp::create(
        b, loc, type, /*isConstant=*/true, LLVM::Linkage::Private,
        (kSiteStringPrefix + llvm::Twine(i)).str(), b.getStringAttr(bytes)));
  }
  auto sitesType = LLVM::LLVMArrayType::get(ptr, sites.size());
  defineGlobal(b, loc, sitesType, /*constant=*/true, MOERT_EMU_SITES_SYMBOL,
               [&](OpBuilder &b) -> Value {
                 Value array = LLVM::UndefOp::create(b, loc, sitesType);
                 for (auto [i, string] : llvm::enumerate(strings)) {
                   Value address = LLVM::AddressOfOp::create(b, loc, string);
                   array = LLVM::InsertValueOp::create(
                       b, loc, array, address,
                       ArrayRef<int64_t>{static_cast<int64_t>(i)});
                 }
                 return array;
               });
  LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/true,
                         LLVM::Linkage::External, MOERT_EMU_NUM_SITES_SYMBOL,
                         b.getI32IntegerAttr(sites.size()));
  LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/true,
                         LLVM::Linkage::External, MOERT_EMU_ABI_VERSION_SYMBOL,
                         b.getI32IntegerAttr(MOERT_EMU_ABI_VERSION));
}
