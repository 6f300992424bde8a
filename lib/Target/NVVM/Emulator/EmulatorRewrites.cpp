//===- EmulatorRewrites.cpp - one NVVM operation into emulator calls ------===//
//
// Each rewrite keeps the operation's place in the thread's code: a barrier
// is a call where the barrier was, so the emulator sees every thread arrive
// at the same site; a check comes right before its access, with nothing
// that could switch threads in between.
//
//===----------------------------------------------------------------------===//

#include "EmulatorRewrites.h"

#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::moe;

static constexpr llvm::StringLiteral kPassName = "moe-nvvm-to-emulator: ";

std::optional<moert_emu_sreg>
mlir::moe::specialRegister(llvm::StringRef opName) {
  return llvm::StringSwitch<std::optional<moert_emu_sreg>>(opName)
      .Case("nvvm.read.ptx.sreg.tid.x", MOERT_EMU_TID_X)
      .Case("nvvm.read.ptx.sreg.tid.y", MOERT_EMU_TID_Y)
      .Case("nvvm.read.ptx.sreg.tid.z", MOERT_EMU_TID_Z)
      .Case("nvvm.read.ptx.sreg.ntid.x", MOERT_EMU_NTID_X)
      .Case("nvvm.read.ptx.sreg.ntid.y", MOERT_EMU_NTID_Y)
      .Case("nvvm.read.ptx.sreg.ntid.z", MOERT_EMU_NTID_Z)
      .Case("nvvm.read.ptx.sreg.ctaid.x", MOERT_EMU_CTAID_X)
      .Case("nvvm.read.ptx.sreg.ctaid.y", MOERT_EMU_CTAID_Y)
      .Case("nvvm.read.ptx.sreg.ctaid.z", MOERT_EMU_CTAID_Z)
      .Case("nvvm.read.ptx.sreg.nctaid.x", MOERT_EMU_NCTAID_X)
      .Case("nvvm.read.ptx.sreg.nctaid.y", MOERT_EMU_NCTAID_Y)
      .Case("nvvm.read.ptx.sreg.nctaid.z", MOERT_EMU_NCTAID_Z)
      .Case("nvvm.read.ptx.sreg.laneid", MOERT_EMU_LANEID)
      .Case("nvvm.read.ptx.sreg.warpid", MOERT_EMU_WARPID)
      .Default(std::nullopt);
}

namespace {

/// Whether `type` fills one 32-bit register of an mma.sync fragment.
bool isRegister(Type type) {
  if (type.isInteger(32))
    return true;
  auto vector = dyn_cast<VectorType>(type);
  return vector && vector.getNumElements() == 2 &&
         vector.getElementType().isIntOrFloat() &&
         vector.getElementType().getIntOrFloatBitWidth() == 16;
}

/// The multiplicand type: the attribute, else what the registers hold
/// (f16 pairs carry no attribute).
std::optional<NVVM::MMATypes> multiplicand(std::optional<NVVM::MMATypes> attr,
                                           OperandRange registers) {
  if (attr)
    return attr;
  auto vector = registers.empty()
                    ? nullptr
                    : dyn_cast<VectorType>(registers[0].getType());
  if (vector && vector.getElementType().isF16())
    return NVVM::MMATypes::f16;
  if (vector && vector.getElementType().isBF16())
    return NVVM::MMATypes::bf16;
  return std::nullopt;
}

bool allF32(TypeRange types, size_t count) {
  return types.size() == count &&
         llvm::all_of(types, [](Type t) { return t.isF32(); });
}

} // namespace

FailureOr<moert_emu_mma_type> mlir::moe::mmaType(NVVM::MmaOp op) {
  auto refuse = [&](const llvm::Twine &what) -> FailureOr<moert_emu_mma_type> {
    op.emitError(kPassName)
        << "no emulation of nvvm.mma.sync " << what
        << " (only m16n8k16, row.col, bf16 or f16 multiplicands in 4 + 2 "
           "32-bit registers, four f32 accumulators)";
    return failure();
  };
  NVVM::MMAShapeAttr shape = op.getShape();
  if (shape.getM() != 16 || shape.getN() != 8 || shape.getK() != 16)
    return refuse(llvm::formatv("of shape m{0}n{1}k{2}", shape.getM(),
                                shape.getN(), shape.getK()));
  if (op.getLayoutA() != NVVM::MMALayout::row ||
      op.getLayoutB() != NVVM::MMALayout::col)
    return refuse("with layout " + stringifyMMALayout(op.getLayoutA()) + "." +
                  stringifyMMALayout(op.getLayoutB()));
  std::optional<NVVM::MMATypes> a =
      multiplicand(op.getMultiplicandAPtxType(), op.getOperandA());
  std::optional<NVVM::MMATypes> b =
      multiplicand(op.getMultiplicandBPtxType(), op.getOperandB());
  if (!a || a != b || (*a != NVVM::MMATypes::bf16 && *a != NVVM::MMATypes::f16))
    return refuse(llvm::Twine("with ") +
                  (a ? stringifyMMATypes(*a) : "unknown") + " and " +
                  (b ? stringifyMMATypes(*b) : "unknown") + " multiplicands");
  if (op.getOperandA().size() != 4 || op.getOperandB().size() != 2 ||
      !llvm::all_of(op.getOperandA().getTypes(), isRegister) ||
      !llvm::all_of(op.getOperandB().getTypes(), isRegister))
    return refuse("with other A or B registers");
  if (op.getB1Op() || op.getIntOverflowBehavior())
    return refuse("with b1 or integer options");
  auto result = dyn_cast<LLVM::LLVMStructType>(op.getType());
  if (!allF32(op.getOperandC().getTypes(), 4) || !result ||
      !allF32(result.getBody(), 4))
    return refuse("with other accumulators than four f32");
  return *a == NVVM::MMATypes::bf16 ? MOERT_EMU_MMA_BF16 : MOERT_EMU_MMA_F16;
}

LogicalResult mlir::moe::checkE4M3Mma(LLVM::CallIntrinsicOp call) {
  auto result =
      call.getNumResults() == 1
          ? dyn_cast<LLVM::LLVMStructType>(call.getResult(0).getType())
          : nullptr;
  OperandRange args = call.getArgs();
  if (call.getIntrin() != nvidia::kE4M3MmaIntrinsic)
    return call.emitError(kPassName) << "no emulation of " << call.getIntrin()
                                     << " (of LLVM's NVVM intrinsics, only "
                                     << nvidia::kE4M3MmaIntrinsic << ")";
  if (args.size() != 10 ||
      !llvm::all_of(args.take_front(6).getTypes(),
                    [](Type t) { return t.isInteger(32); }) ||
      !allF32(args.drop_front(6).getTypes(), 4) || !result ||
      !allF32(result.getBody(), 4))
    return call.emitError(kPassName)
           << "no emulation of " << call.getIntrin()
           << " but with 4 + 2 i32 registers and four f32 accumulators";
  return success();
}

bool mlir::moe::isDynamicShared(LLVM::GlobalOp global) {
  auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
  return global.getAddrSpace() == 3 && array && array.getNumElements() == 0;
}

void EmulatorRewriter::plan(Operation *op, PointerSpaces &pointers) {
  auto trace = [&](OpOperand &operand) {
    spaces[{op, operand.getOperandNumber()}] = pointers.get(operand.get());
  };
  if (auto load = dyn_cast<LLVM::LoadOp>(op))
    trace(load.getAddrMutable());
  else if (auto store = dyn_cast<LLVM::StoreOp>(op))
    trace(store.getAddrMutable());
  else if (auto rmw = dyn_cast<LLVM::AtomicRMWOp>(op))
    trace(rmw.getPtrMutable());
  else if (auto cmpxchg = dyn_cast<LLVM::AtomicCmpXchgOp>(op))
    trace(cmpxchg.getPtrMutable());
  else if (auto copy = dyn_cast<LLVM::MemcpyOp>(op)) {
    trace(copy.getDstMutable());
    trace(copy.getSrcMutable());
  } else if (auto move = dyn_cast<LLVM::MemmoveOp>(op)) {
    trace(move.getDstMutable());
    trace(move.getSrcMutable());
  } else if (auto set = dyn_cast<LLVM::MemsetOp>(op))
    trace(set.getDstMutable());
}

Value EmulatorRewriter::constant(OpBuilder &b, Location loc, Type type,
                                 int64_t value) {
  return LLVM::ConstantOp::create(b, loc, type, value);
}

void EmulatorRewriter::checkAccess(OpBuilder &b, Operation *op,
                                   unsigned operand, Value bytes,
                                   unsigned flags, StringRef what,
                                   Value &site) {
  auto it = spaces.find({op, operand});
  MemorySpace space = it == spaces.end() ? MemorySpace::Unknown : it->second;
  if (space == MemorySpace::Private)
    return;
  if (space == MemorySpace::Shared)
    flags |= MOERT_EMU_ACCESS_SHARED;
  if (space == MemorySpace::Global)
    flags |= MOERT_EMU_ACCESS_GLOBAL;
  Location loc = op->getLoc();
  if (!site)
    site = api.site(b, op, what);
  Value pointer = op->getOperand(operand);
  auto ptr = LLVM::LLVMPointerType::get(op->getContext());
  if (pointer.getType() != ptr)
    pointer = LLVM::AddrSpaceCastOp::create(b, loc, ptr, pointer);
  auto i64 = b.getI64Type();
  if (bytes.getType() != i64)
    bytes = LLVM::ZExtOp::create(b, loc, i64, bytes);
  Value flagsValue = constant(b, loc, b.getI32Type(), flags);
  api.call(b, loc, MOERT_EMU_CHECK_ACCESS, Type(),
           {pointer, bytes, flagsValue, site});
}

void EmulatorRewriter::checkAccess(OpBuilder &b, Operation *op,
                                   unsigned operand, Type type, unsigned flags,
                                   StringRef what, Value &site) {
  // Not for the thread's own memory: no need to trace first.
  auto it = spaces.find({op, operand});
  if (it != spaces.end() && it->second == MemorySpace::Private)
    return;
  Value bytes = constant(b, op->getLoc(), b.getI64Type(),
                         layout.getTypeSize(type).getFixedValue());
  checkAccess(b, op, operand, bytes, flags, what, site);
}

EmulatorRewriter::MmaBuffers EmulatorRewriter::buffers(Operation *op) {
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  auto [it, inserted] = mmaBuffers.try_emplace(func);
  if (!inserted)
    return it->second;
  // One set per function, in its entry block: a thread runs one mma.sync
  // at a time, and the fiber stacks are small.
  MLIRContext *ctx = op->getContext();
  OpBuilder b(ctx);
  b.setInsertionPointToStart(&func.getBody().front());
  Location loc = func.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Value one = constant(b, loc, b.getI64Type(), 1);
  auto stackArray = [&](Type element, unsigned count) -> Value {
    return LLVM::AllocaOp::create(b, loc, ptr,
                                  LLVM::LLVMArrayType::get(element, count), one,
                                  /*alignment=*/16);
  };
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  it->second = {stackArray(i32, 4), stackArray(i32, 2), stackArray(f32, 4),
                stackArray(f32, 4)};
  return it->second;
}

void EmulatorRewriter::rewriteMma(Operation *op, moert_emu_mma_type type,
                                  ValueRange aRegs, ValueRange bRegs,
                                  ValueRange cRegs) {
  MmaBuffers buf = buffers(op);
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto ptr = LLVM::LLVMPointerType::get(op->getContext());
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto element = [&](Value buffer, Type type, unsigned count, unsigned i) {
    return LLVM::GEPOp::create(
        b, loc, ptr, LLVM::LLVMArrayType::get(type, count), buffer,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
  };
  // The packed registers go as the i32 they are in the PTX (the lower
  // half, or byte, is the first element on both sides).
  auto storeRegisters = [&](Value buffer, ValueRange registers) {
    for (auto [i, value] : llvm::enumerate(registers)) {
      Value bits = value.getType() == i32
                       ? value
                       : LLVM::BitcastOp::create(b, loc, i32, value);
      LLVM::StoreOp::create(b, loc, bits,
                            element(buffer, i32, registers.size(), i));
    }
  };
  storeRegisters(buf.a, aRegs);
  storeRegisters(buf.b, bRegs);
  for (auto [i, value] : llvm::enumerate(cRegs))
    LLVM::StoreOp::create(b, loc, value, element(buf.c, f32, 4, i));
  Value site = api.site(b, op, "mma.sync");
  Value typeValue = constant(b, loc, i32, type);
  api.call(b, loc, MOERT_EMU_MMA_M16N8K16, Type(),
           {typeValue, site, buf.a, buf.b, buf.c, buf.d});
  Value result = LLVM::PoisonOp::create(b, loc, op->getResult(0).getType());
  for (unsigned i = 0; i < 4; ++i) {
    Value d = LLVM::LoadOp::create(b, loc, f32, element(buf.d, f32, 4, i));
    result = LLVM::InsertValueOp::create(
        b, loc, result, d, ArrayRef<int64_t>{static_cast<int64_t>(i)});
  }
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

/// f32 -> bf16 as integer code. x86 without AVX512-BF16 makes the
/// fptrunc a call of __truncsfbf2, which libgcc has only from GCC 13 on:
/// the library would not load where it was built with an older one.
/// Rounds to nearest even, as cvt.rn.bf16.f32 does; a NaN becomes the
/// canonical 0x7FFF, as the PTX ISA says cvt's NaNs do.
void EmulatorRewriter::truncateToBF16(LLVM::FPTruncOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type i32 = b.getI32Type(), i16 = b.getI16Type();
  auto c32 = [&](int64_t v) { return constant(b, loc, i32, v); };
  Value bits = LLVM::BitcastOp::create(b, loc, i32, op.getArg());
  Value high = LLVM::LShrOp::create(b, loc, bits, c32(16));
  Value odd = LLVM::AndOp::create(b, loc, high, c32(1));
  Value bias = LLVM::AddOp::create(b, loc, odd, c32(0x7FFF));
  Value rounded = LLVM::LShrOp::create(
      b, loc, LLVM::AddOp::create(b, loc, bits, bias), c32(16));
  Value magnitude = LLVM::AndOp::create(b, loc, bits, c32(0x7FFFFFFF));
  Value nan = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ugt, magnitude,
                                   c32(0x7F800000));
  Value result = LLVM::SelectOp::create(b, loc, nan, c32(0x7FFF), rounded);
  Value half = LLVM::TruncOp::create(b, loc, i16, result);
  op.getResult().replaceAllUsesWith(
      LLVM::BitcastOp::create(b, loc, op.getType(), half));
  op.erase();
}

/// An atomic (atomicrmw, cmpxchg): a fence, where another block may run
/// (the point of an atomic ticket), then the check of a read and a write.
template <typename AtomicOp>
void EmulatorRewriter::rewriteAtomic(OpBuilder &b, AtomicOp op, StringRef name,
                                     Value &site) {
  site = api.site(b, op, name);
  api.call(b, op.getLoc(), MOERT_EMU_FENCE, Type(), {site});
  checkAccess(b, op, op.getPtrMutable().getOperandNumber(),
              op.getVal().getType(),
              MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_WRITE, name, site);
}

/// memcpy, memmove: the destination written, the source read.
template <typename CopyOp>
void EmulatorRewriter::checkCopy(OpBuilder &b, CopyOp op, StringRef name,
                                 Value &site) {
  checkAccess(b, op, op.getDstMutable().getOperandNumber(), op.getLen(),
              MOERT_EMU_ACCESS_WRITE, name, site);
  checkAccess(b, op, op.getSrcMutable().getOperandNumber(), op.getLen(),
              MOERT_EMU_ACCESS_READ, name, site);
}

void EmulatorRewriter::rewrite(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  MLIRContext *ctx = op->getContext();
  Type i32 = b.getI32Type();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Value site;
  if (std::optional<moert_emu_sreg> code =
          specialRegister(op->getName().getStringRef())) {
    Value which = constant(b, loc, i32, *code);
    op->getResult(0).replaceAllUsesWith(
        api.call(b, loc, MOERT_EMU_SREG, i32, {which}));
    op->erase();
  } else if (isa<NVVM::Barrier0Op, NVVM::BarrierOp>(op)) {
    site = api.site(b, op, "barrier0");
    api.call(b, loc, MOERT_EMU_BARRIER, Type(), {site});
    op->erase();
  } else if (auto mma = dyn_cast<NVVM::MmaOp>(op)) {
    rewriteMma(mma, *mmaType(mma), mma.getOperandA(), mma.getOperandB(),
               mma.getOperandC()); // the type was checked before the rewrite
  } else if (auto call = dyn_cast<LLVM::CallIntrinsicOp>(op)) {
    OperandRange args = call.getArgs(); // checkE4M3Mma'd
    rewriteMma(call, MOERT_EMU_MMA_E4M3, args.take_front(4), args.slice(4, 2),
               args.drop_front(6));
  } else if (auto copy = dyn_cast<NVVM::CpAsyncOp>(op)) {
    site = api.site(b, op, "cp.async");
    Value dst = LLVM::AddrSpaceCastOp::create(b, loc, ptr, copy.getDst());
    Value src = LLVM::AddrSpaceCastOp::create(b, loc, ptr, copy.getSrc());
    Value bytes = constant(b, loc, i32, copy.getSize());
    Value srcBytes = copy.getCpSize() ? copy.getCpSize() : bytes;
    api.call(b, loc, MOERT_EMU_CP_ASYNC, Type(),
             {dst, src, bytes, srcBytes, site});
    op->erase();
  } else if (isa<NVVM::CpAsyncCommitGroupOp>(op)) {
    api.call(b, loc, MOERT_EMU_CP_ASYNC_COMMIT, Type(), {});
    op->erase();
  } else if (auto wait = dyn_cast<NVVM::CpAsyncWaitGroupOp>(op)) {
    site = api.site(b, op, "cp.async.wait.group");
    Value n = constant(b, loc, i32, wait.getN());
    api.call(b, loc, MOERT_EMU_CP_ASYNC_WAIT, Type(), {n, site});
    op->erase();
  } else if (isa<NVVM::MembarOp, NVVM::FenceScClusterOp>(op)) {
    site = api.site(b, op, op->getName().stripDialect());
    api.call(b, loc, MOERT_EMU_FENCE, Type(), {site});
    op->erase();
  } else if (isa<LLVM::FenceOp>(op)) {
    site = api.site(b, op, "fence");
    api.call(b, loc, MOERT_EMU_FENCE, Type(), {site});
  } else if (auto rmw = dyn_cast<LLVM::AtomicRMWOp>(op)) {
    rewriteAtomic(b, rmw, "atomicrmw", site);
  } else if (auto cmpxchg = dyn_cast<LLVM::AtomicCmpXchgOp>(op)) {
    rewriteAtomic(b, cmpxchg, "cmpxchg", site);
  } else if (auto load = dyn_cast<LLVM::LoadOp>(op)) {
    checkAccess(b, op, load.getAddrMutable().getOperandNumber(), load.getType(),
                MOERT_EMU_ACCESS_READ, "load", site);
  } else if (auto store = dyn_cast<LLVM::StoreOp>(op)) {
    checkAccess(b, op, store.getAddrMutable().getOperandNumber(),
                store.getValue().getType(), MOERT_EMU_ACCESS_WRITE, "store",
                site);
  } else if (auto copy = dyn_cast<LLVM::MemcpyOp>(op)) {
    checkCopy(b, copy, "memcpy", site);
  } else if (auto move = dyn_cast<LLVM::MemmoveOp>(op)) {
    checkCopy(b, move, "memmove", site);
  } else if (auto set = dyn_cast<LLVM::MemsetOp>(op)) {
    checkAccess(b, op, set.getDstMutable().getOperandNumber(), set.getLen(),
                MOERT_EMU_ACCESS_WRITE, "memset", site);
  } else if (auto trunc = dyn_cast<LLVM::FPTruncOp>(op)) {
    if (trunc.getType().isBF16() && trunc.getArg().getType().isF32())
      truncateToBF16(trunc);
  } else if (auto address = dyn_cast<LLVM::AddressOfOp>(op)) {
    auto global = dyn_cast_or_null<LLVM::GlobalOp>(
        SymbolTable::lookupNearestSymbolFrom(op, address.getGlobalNameAttr()));
    if (!global || !isDynamicShared(global))
      return;
    // Every dynamic shared array starts at the block's arena, as in CUDA.
    Value base = api.call(b, loc, MOERT_EMU_SHARED_BASE, ptr, {});
    address.getResult().replaceAllUsesWith(
        LLVM::AddrSpaceCastOp::create(b, loc, address.getType(), base));
    op->erase();
  }
}
