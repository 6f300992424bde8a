//===- PointerSpace.cpp - which memory an NVVM pointer may point into -----===//
//
// After convert-gpu-to-nvvm every load and store goes through a generic
// pointer: shared memory is reached through an addrspacecast of the
// dynamic shared memory global, global memory through the kernel's bare
// pointer parameters, both often by way of a memref descriptor struct. The
// address space of the accessed pointer therefore says nothing; its origin
// does.
//
//===----------------------------------------------------------------------===//

#include "PointerSpace.h"

#include "mlir/Interfaces/ControlFlowInterfaces.h"

#include <set>
#include <vector>

using namespace mlir;
using namespace mlir::moe;

bool mlir::moe::isNvvmKernel(LLVM::LLVMFuncOp func) {
  return func->hasAttr("gpu.kernel") || func->hasAttr("nvvm.kernel") ||
         func.getCConv() == LLVM::cconv::CConv::PTX_Kernel;
}

namespace {

/// The origins of one pointer: values to trace, each with the position of
/// the pointer inside it when it is an aggregate (a memref descriptor).
class Trace {
public:
  explicit Trace(Value pointer) { push(pointer, {}); }
  MemorySpace run();

private:
  using Path = std::vector<int64_t>;
  void push(Value value, Path path) {
    if (seen.insert({value.getAsOpaquePointer(), path}).second)
      work.push_back({value, std::move(path)});
  }
  void root(MemorySpace space) {
    if (!found)
      found = space;
    else if (*found != space)
      found = MemorySpace::Unknown;
  }
  void step(Value value, const Path &path);
  /// `arg` (at `path` of its value): a kernel parameter, or what the
  /// branches to its block pass.
  void stepArgument(BlockArgument arg, const Path &path);
  /// Follows `op` if it builds or takes apart an aggregate (a memref
  /// descriptor) at `path`; false if it does neither.
  bool stepAggregate(Operation *op, const Path &path);

  std::vector<std::pair<Value, Path>> work;
  std::set<std::pair<const void *, Path>> seen;
  std::optional<MemorySpace> found;
};

MemorySpace Trace::run() {
  while (!work.empty() && found != MemorySpace::Unknown) {
    auto [value, path] = work.back();
    work.pop_back();
    step(value, path);
  }
  return found.value_or(MemorySpace::Unknown);
}

void Trace::stepArgument(BlockArgument arg, const Path &path) {
  Block *block = arg.getOwner();
  if (block->isEntryBlock()) {
    // The runtime passes kernels pointers to its launch buffers.
    auto func = dyn_cast<LLVM::LLVMFuncOp>(block->getParentOp());
    if (isa<IntegerType>(arg.getType()))
      return; // an offset, as below
    return root(path.empty() && func && isNvvmKernel(func) &&
                        isa<LLVM::LLVMPointerType>(arg.getType())
                    ? MemorySpace::Global
                    : MemorySpace::Unknown);
  }
  for (Block *pred : block->getPredecessors()) {
    auto branch = dyn_cast<BranchOpInterface>(pred->getTerminator());
    if (!branch)
      return root(MemorySpace::Unknown);
    for (unsigned s = 0, e = branch->getNumSuccessors(); s < e; ++s) {
      if (branch->getSuccessor(s) != block)
        continue;
      Value incoming = branch.getSuccessorOperands(s)[arg.getArgNumber()];
      if (!incoming)
        return root(MemorySpace::Unknown);
      push(incoming, path);
    }
  }
}

bool Trace::stepAggregate(Operation *op, const Path &path) {
  if (auto extract = dyn_cast<LLVM::ExtractValueOp>(op)) {
    Path inner(extract.getPosition().begin(), extract.getPosition().end());
    inner.insert(inner.end(), path.begin(), path.end());
    push(extract.getContainer(), std::move(inner));
    return true;
  }
  if (auto insert = dyn_cast<LLVM::InsertValueOp>(op);
      insert && !path.empty()) {
    ArrayRef<int64_t> position = insert.getPosition();
    size_t common = std::min(position.size(), path.size());
    if (!std::equal(position.begin(), position.begin() + common, path.begin()))
      push(insert.getContainer(), path);
    else if (position.size() > path.size())
      root(MemorySpace::Unknown); // part of what we look for
    else
      push(insert.getValue(), Path(path.begin() + common, path.end()));
    return true;
  }
  // The rest of a descriptor built up from nothing holds no pointer.
  return isa<LLVM::UndefOp, LLVM::PoisonOp, LLVM::ZeroOp>(op) && !path.empty();
}

void Trace::step(Value value, const Path &path) {
  if (path.empty()) {
    if (auto type = dyn_cast<LLVM::LLVMPointerType>(value.getType())) {
      if (type.getAddressSpace() == 3)
        return root(MemorySpace::Shared);
      if (type.getAddressSpace() == 1)
        return root(MemorySpace::Global);
      if (type.getAddressSpace() != 0)
        return root(MemorySpace::Unknown);
    }
  }
  if (auto arg = dyn_cast<BlockArgument>(value))
    return stepArgument(arg, path);
  Operation *op = value.getDefiningOp();
  if (stepAggregate(op, path))
    return;
  if (!path.empty())
    return root(MemorySpace::Unknown);
  // Aligning a pointer (memref.alloc's lowering) goes through integers:
  // follow the ptrtoint inside the arithmetic; the other terms (offsets,
  // masks) point nowhere.
  if (isa<IntegerType>(value.getType())) {
    if (isa<LLVM::PtrToIntOp>(op))
      return push(op->getOperand(0), path);
    if (isa<LLVM::AddOp, LLVM::SubOp, LLVM::AndOp, LLVM::OrOp, LLVM::URemOp>(
            op))
      for (Value operand : op->getOperands())
        push(operand, path);
    return;
  }
  if (auto intToPtr = dyn_cast<LLVM::IntToPtrOp>(op))
    return push(intToPtr.getArg(), path);
  if (auto gep = dyn_cast<LLVM::GEPOp>(op))
    return push(gep.getBase(), path);
  if (isa<LLVM::AddrSpaceCastOp, LLVM::BitcastOp>(op))
    return push(op->getOperand(0), path);
  if (auto select = dyn_cast<LLVM::SelectOp>(op)) {
    push(select.getTrueValue(), path);
    return push(select.getFalseValue(), path);
  }
  if (isa<LLVM::AllocaOp>(op))
    return root(MemorySpace::Private);
  // Device malloc (memref.alloc in a kernel): memory of the thread that
  // asked for it, in no buffer of the launch.
  if (auto call = dyn_cast<LLVM::CallOp>(op);
      call && call.getCallee() == "malloc")
    return root(MemorySpace::Private);
  root(MemorySpace::Unknown);
}

} // namespace

MemorySpace PointerSpaces::get(Value pointer) {
  auto [it, inserted] = cache.try_emplace(pointer, MemorySpace::Unknown);
  if (inserted)
    it->second = Trace(pointer).run();
  return it->second;
}
