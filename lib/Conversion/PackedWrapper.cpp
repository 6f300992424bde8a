//===- PackedWrapper.cpp - kernels called with cuLaunchKernel's params ----===//

#include "moe/Conversion/PackedWrapper.h"

using namespace mlir;

LLVM::LLVMFuncOp mlir::moe::addPackedWrapper(LLVM::LLVMFuncOp kernel,
                                             llvm::StringRef name) {
  MLIRContext *ctx = kernel.getContext();
  Location loc = kernel.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr});
  OpBuilder b(kernel);
  b.setInsertionPointAfter(kernel);
  auto wrapper = LLVM::LLVMFuncOp::create(b, loc, name, type);
  Block *entry = wrapper.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  SmallVector<Value> args;
  for (auto [i, argType] :
       llvm::enumerate(kernel.getFunctionType().getParams())) {
    Value slot =
        LLVM::GEPOp::create(b, loc, ptr, ptr, entry->getArgument(0),
                            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
    Value arg = LLVM::LoadOp::create(b, loc, ptr, slot);
    args.push_back(LLVM::LoadOp::create(b, loc, argType, arg));
  }
  LLVM::CallOp::create(b, loc, kernel, args);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return wrapper;
}
