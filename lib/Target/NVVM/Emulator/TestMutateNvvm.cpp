//===- TestMutateNvvm.cpp - the moe-test-mutate-nvvm pass -----------------===//
//
// Plants one bug in NVVM kernels, for tests that the SIMT emulator catches
// what would go wrong on the GPU (a missing or divergent barrier, a
// cp.async group read too early) or computes what the GPU would (a wrong
// mma.sync fragment). See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "moe/Transforms/Passes.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOETESTMUTATENVVM
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// `if (tid.x % 2 == 0) barrier`: the odd threads skip it.
void makeDivergent(NVVM::Barrier0Op barrier) {
  Block *before = barrier->getBlock();
  Block *guarded = before->splitBlock(barrier);
  Block *after = guarded->splitBlock(std::next(barrier->getIterator()));
  Location loc = barrier.getLoc();
  OpBuilder b = OpBuilder::atBlockEnd(before);
  Type i32 = b.getI32Type();
  Value tid = NVVM::ThreadIdXOp::create(b, loc, i32);
  Value two = LLVM::ConstantOp::create(b, loc, i32, 2);
  Value zero = LLVM::ConstantOp::create(b, loc, i32, 0);
  Value odd = LLVM::URemOp::create(b, loc, tid, two);
  Value even = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, odd, zero);
  LLVM::CondBrOp::create(b, loc, even, guarded, after);
  b.setInsertionPointToEnd(guarded);
  LLVM::BrOp::create(b, loc, after);
}

struct MoeTestMutateNvvmPass
    : moe::impl::MoeTestMutateNvvmBase<MoeTestMutateNvvmPass> {
  using Base::Base;

  void runOnOperation() override {
    std::function<void(Operation *)> mutate;
    std::string kind;
    if (mutation == "drop-barrier") {
      kind = "nvvm.barrier0";
      mutate = [](Operation *op) { op->erase(); };
    } else if (mutation == "divergent-barrier") {
      kind = "nvvm.barrier0";
      mutate = [](Operation *op) { makeDivergent(cast<NVVM::Barrier0Op>(op)); };
    } else if (mutation == "swap-mma-lanes") {
      // A's first two registers hold rows g and g + 8 of the fragment:
      // swapped, the product's rows trade places.
      kind = "nvvm.mma.sync";
      mutate = [](Operation *op) {
        auto mma = cast<NVVM::MmaOp>(op);
        Value a0 = mma.getOperandA()[0], a1 = mma.getOperandA()[1];
        mma.getOperandAMutable()[0].set(a1);
        mma.getOperandAMutable()[1].set(a0);
      };
    } else if (mutation == "wait-group-off") {
      kind = "nvvm.cp.async.wait.group";
      mutate = [](Operation *op) {
        auto wait = cast<NVVM::CpAsyncWaitGroupOp>(op);
        wait.setN(wait.getN() + 1);
      };
    } else {
      getOperation().emitError("moe-test-mutate-nvvm: unknown mutation '")
          << mutation
          << "' (drop-barrier, swap-mma-lanes, wait-group-off, "
             "divergent-barrier)";
      return signalPassFailure();
    }

    SmallVector<Operation *> found;
    getOperation().walk([&](Operation *op) {
      auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
      if (op->getName().getStringRef() == kind && func &&
          func.getName().contains(kernel))
        found.push_back(op);
    });
    if (index < 0 || index >= static_cast<int64_t>(found.size())) {
      getOperation().emitError("moe-test-mutate-nvvm: no ")
          << kind << " #" << static_cast<int64_t>(index) << " to mutate ("
          << found.size() << " in functions matching '" << kernel << "')";
      return signalPassFailure();
    }
    mutate(found[index]);
  }
};

} // namespace
