// RUN: moe-opt %s --moe-nvvm-to-emulator | FileCheck %s
// RUN: moe-opt %s --moe-nvvm-to-emulator=chip=sm_80 | FileCheck %s --check-prefix=OTHERCHIP

// Each NVVM operation becomes a call through the table @__moe_emu_api
// (slots and codes of runtime/include/moert/moert_emu_abi.h); accesses that
// may reach shared or global memory are checked first; kernels become
// internal functions behind __moe_emu_kernel_<symbol>(void **params).

// A module for another chip is left alone.
// OTHERCHIP-NOT: __moe_emu
// OTHERCHIP: nvvm.barrier0

// CHECK-LABEL: gpu.module @kernels
// CHECK: llvm.mlir.global external @__moe_emu_api() {{.*}} : !llvm.array<9 x ptr> {
// CHECK: llvm.mlir.zero : !llvm.array<9 x ptr>
// Dynamic shared memory is the block's arena: the global goes.
// CHECK-NOT: __dynamic_shmem__0
// CHECK: llvm.func @expf(f32) -> f32
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.func @__nv_expf(f32) -> f32
  llvm.func @__nv_fabsf(f32) -> f32

  // Special registers: MOERT_EMU_SREG (slot 0) with the register's code;
  // barrier0: MOERT_EMU_BARRIER (slot 1) with its site; a store through a
  // kernel parameter: CHECK_ACCESS (slot 8) of 4 bytes, WRITE | GLOBAL.
  // CHECK-LABEL: llvm.func internal @registers(%arg0: !llvm.ptr) {
  // CHECK-NOT: nvvm.
  // CHECK: %[[TIDX:.*]] = llvm.mlir.constant(0 : i32) : i32
  // CHECK: %[[T:.*]] = llvm.mlir.addressof @__moe_emu_api : !llvm.ptr
  // CHECK: %[[S:.*]] = llvm.getelementptr %[[T]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<9 x ptr>
  // CHECK: %[[F:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
  // CHECK: %[[TID:.*]] = llvm.call %[[F]](%[[TIDX]]) : !llvm.ptr, (i32) -> i32
  // CHECK: llvm.mlir.constant(7 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 0]
  // CHECK: %[[CTAID:.*]] = llvm.call
  // CHECK: llvm.mlir.constant(12 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 0]
  // CHECK: %[[LANE:.*]] = llvm.call
  // CHECK: %[[SUM:.*]] = llvm.add %[[TID]], %[[CTAID]] : i32
  // CHECK: %[[SUM2:.*]] = llvm.add %[[SUM]], %[[LANE]] : i32
  // CHECK: %[[SITE0:.*]] = llvm.mlir.constant(0 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 1]
  // CHECK: llvm.call %{{.*}}(%[[SITE0]]) : !llvm.ptr, (i32) -> ()
  // CHECK: %[[P:.*]] = llvm.getelementptr %arg0[%[[TID]]]
  // CHECK: %[[BYTES:.*]] = llvm.mlir.constant(4 : i64) : i64
  // CHECK: %[[SITE1:.*]] = llvm.mlir.constant(1 : i32) : i32
  // CHECK: %[[FLAGS:.*]] = llvm.mlir.constant(9 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 8]
  // CHECK: llvm.call %{{.*}}(%[[P]], %[[BYTES]], %[[FLAGS]], %[[SITE1]]) : !llvm.ptr, (!llvm.ptr, i64, i32, i32) -> ()
  // CHECK: llvm.store %[[SUM2]], %[[P]] : i32, !llvm.ptr
  // CHECK-LABEL: llvm.func @__moe_emu_kernel_registers(%arg0: !llvm.ptr) {
  // CHECK: %[[A0:.*]] = llvm.getelementptr %arg0[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK: %[[V0:.*]] = llvm.load %[[A0]] : !llvm.ptr -> !llvm.ptr
  // CHECK: %[[X0:.*]] = llvm.load %[[V0]] : !llvm.ptr -> !llvm.ptr
  // CHECK: llvm.call @registers(%[[X0]]) : (!llvm.ptr) -> ()
  llvm.func @registers(%out: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel, nvvm.maxntid = array<i32: 64, 1, 1>} {
    %tid = nvvm.read.ptx.sreg.tid.x range <i32, 0, 64> : i32
    %ctaid = nvvm.read.ptx.sreg.ctaid.y : i32
    %lane = nvvm.read.ptx.sreg.laneid : i32
    %sum = llvm.add %tid, %ctaid : i32
    %sum2 = llvm.add %sum, %lane : i32
    nvvm.barrier0
    %p = llvm.getelementptr %out[%tid] : (!llvm.ptr, i32) -> !llvm.ptr, i32
    llvm.store %sum2, %p : i32, !llvm.ptr
    llvm.return
  }

  // bf16 registers arrive as i32, f16 ones as pairs: each goes through
  // memory as i32, D comes back as the result struct. The buffers are one
  // set per function, in the entry block.
  // CHECK-LABEL: llvm.func internal @mma(
  // CHECK-SAME: %[[A:[^:]*]]: i32, %[[B:[^:]*]]: i32, %[[C:[^:]*]]: f32, %[[H:[^:]*]]: vector<2xf16>, %[[OUT:[^:]*]]: !llvm.ptr)
  // CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64) : i64
  // CHECK: %[[ABUF:.*]] = llvm.alloca %[[ONE]] x !llvm.array<4 x i32> {alignment = 16 : i64}
  // CHECK: %[[BBUF:.*]] = llvm.alloca %[[ONE]] x !llvm.array<2 x i32> {alignment = 16 : i64}
  // CHECK: %[[CBUF:.*]] = llvm.alloca %[[ONE]] x !llvm.array<4 x f32> {alignment = 16 : i64}
  // CHECK: %[[DBUF:.*]] = llvm.alloca %[[ONE]] x !llvm.array<4 x f32> {alignment = 16 : i64}
  // CHECK: %[[A3:.*]] = llvm.getelementptr %[[ABUF]][0, 3] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<4 x i32>
  // CHECK: llvm.store %[[A]], %[[A3]] : i32, !llvm.ptr
  // CHECK: %[[C3:.*]] = llvm.getelementptr %[[CBUF]][0, 3] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<4 x f32>
  // CHECK: llvm.store %[[C]], %[[C3]] : f32, !llvm.ptr
  // CHECK: %[[SITE:.*]] = llvm.mlir.constant(2 : i32) : i32
  // CHECK: %[[BF16:.*]] = llvm.mlir.constant(0 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 2]
  // CHECK: llvm.call %{{.*}}(%[[BF16]], %[[SITE]], %[[ABUF]], %[[BBUF]], %[[CBUF]], %[[DBUF]]) : !llvm.ptr, (i32, i32, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
  // CHECK: %[[R0:.*]] = llvm.mlir.poison : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK: %[[D0P:.*]] = llvm.getelementptr %[[DBUF]][0, 0]
  // CHECK: %[[D0:.*]] = llvm.load %[[D0P]] : !llvm.ptr -> f32
  // CHECK: %[[R1:.*]] = llvm.insertvalue %[[D0]], %[[R0]][0]
  // CHECK: %[[R4:.*]] = llvm.insertvalue %{{.*}}, %{{.*}}[3] : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK: %[[HBITS:.*]] = llvm.bitcast %[[H]] : vector<2xf16> to i32
  // CHECK: llvm.getelementptr %[[ABUF]][0, 0]
  // CHECK: llvm.store %[[HBITS]]
  // CHECK: %[[SITE3:.*]] = llvm.mlir.constant(3 : i32) : i32
  // CHECK: %[[F16:.*]] = llvm.mlir.constant(1 : i32) : i32
  // CHECK: llvm.call %{{.*}}(%[[F16]], %[[SITE3]], %[[ABUF]], %[[BBUF]], %[[CBUF]], %[[DBUF]])
  // The D fragment stays a struct for its users.
  // CHECK: llvm.extractvalue %[[R4]][0] : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK-LABEL: llvm.func @__moe_emu_kernel_mma(%arg0: !llvm.ptr) {
  // CHECK-COUNT-5: llvm.getelementptr %arg0[{{[0-4]}}]
  // CHECK: llvm.call @mma({{.*}}) : (i32, i32, f32, vector<2xf16>, !llvm.ptr) -> ()
  llvm.func @mma(%a: i32, %b: i32, %c: f32, %h: vector<2xf16>, %out: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %d = nvvm.mma.sync A[%a, %a, %a, %a] B[%b, %b] C[%c, %c, %c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>,
         shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %e = nvvm.mma.sync A[%h, %h, %h, %h] B[%h, %h] C[%c, %c, %c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
    %e0 = llvm.extractvalue %e[0] : !llvm.struct<(f32, f32, f32, f32)>
    %sum = llvm.fadd %d0, %e0 : f32
    llvm.store %sum, %out : f32, !llvm.ptr
    llvm.return
  }

  // cp.async from a kernel parameter to dynamic shared memory (the
  // runtime's base, cast back to addrspace(3)); the copies' own checks are
  // the runtime's. A shared load through a memref descriptor: READ |
  // SHARED (6), 16 bytes.
  // CHECK-LABEL: llvm.func internal @staging(
  // CHECK: %[[BASE:.*]] = llvm.call %{{.*}}() : !llvm.ptr, () -> !llvm.ptr
  // CHECK: %[[SHMEM:.*]] = llvm.addrspacecast %[[BASE]] : !llvm.ptr to !llvm.ptr<3>
  // CHECK: %[[DST:.*]] = llvm.getelementptr %[[SHMEM]][16]
  // CHECK: %[[GLOBAL:.*]] = llvm.addrspacecast %arg0 : !llvm.ptr to !llvm.ptr<1>
  // CHECK: %[[CPSITE:.*]] = llvm.mlir.constant(5 : i32) : i32
  // CHECK: %[[GDST:.*]] = llvm.addrspacecast %[[DST]] : !llvm.ptr<3> to !llvm.ptr
  // CHECK: %[[GSRC:.*]] = llvm.addrspacecast %[[GLOBAL]] : !llvm.ptr<1> to !llvm.ptr
  // CHECK: %[[SIXTEEN:.*]] = llvm.mlir.constant(16 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 3]
  // CHECK: llvm.call %{{.*}}(%[[GDST]], %[[GSRC]], %[[SIXTEEN]], %[[SIXTEEN]], %[[CPSITE]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, i32, i32, i32) -> ()
  // A copy with a source size passes it on.
  // CHECK: getelementptr %{{.*}}[0, 3]
  // CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %arg1, %{{.*}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, i32, i32, i32) -> ()
  // CHECK: getelementptr %{{.*}}[0, 4]
  // CHECK: llvm.call %{{.*}}() : !llvm.ptr, () -> ()
  // CHECK: %[[WSITE:.*]] = llvm.mlir.constant(7 : i32) : i32
  // CHECK: %[[N:.*]] = llvm.mlir.constant(1 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 5]
  // CHECK: llvm.call %{{.*}}(%[[N]], %[[WSITE]]) : !llvm.ptr, (i32, i32) -> ()
  // CHECK: getelementptr %{{.*}}[0, 1]
  // CHECK: %[[LOADP:.*]] = llvm.getelementptr
  // CHECK: llvm.mlir.constant(16 : i64) : i64
  // CHECK: llvm.mlir.constant(6 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 8]
  // CHECK: llvm.call %{{.*}}(%[[LOADP]],
  // CHECK: llvm.load %[[LOADP]] : !llvm.ptr -> vector<8xbf16>
  llvm.func @staging(%src: !llvm.ptr, %size: i32, %out: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %shmem = llvm.mlir.addressof @__dynamic_shmem__0 : !llvm.ptr<3>
    %dst = llvm.getelementptr %shmem[16] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
    %global = llvm.addrspacecast %src : !llvm.ptr to !llvm.ptr<1>
    nvvm.cp.async.shared.global %dst, %global, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
    nvvm.cp.async.shared.global %dst, %global, 16, cache = cg, %size : !llvm.ptr<3>, !llvm.ptr<1>, i32
    nvvm.cp.async.commit.group
    nvvm.cp.async.wait.group 1
    nvvm.barrier0
    %generic = llvm.addrspacecast %dst : !llvm.ptr<3> to !llvm.ptr
    %undef = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64)>
    %desc0 = llvm.insertvalue %generic, %undef[0] : !llvm.struct<(ptr, ptr, i64)>
    %desc1 = llvm.insertvalue %generic, %desc0[1] : !llvm.struct<(ptr, ptr, i64)>
    %aligned = llvm.extractvalue %desc1[1] : !llvm.struct<(ptr, ptr, i64)>
    %q = llvm.getelementptr %aligned[32] : (!llvm.ptr) -> !llvm.ptr, bf16
    %v = llvm.load %q : !llvm.ptr -> vector<8xbf16>
    llvm.store %v, %out : vector<8xbf16>, !llvm.ptr
    llvm.return
  }

  // A ticket: fences stay fences (MOERT_EMU_FENCE, slot 6), and the
  // atomic, kept, is preceded by one and checked as READ | WRITE | GLOBAL.
  // CHECK-LABEL: llvm.func internal @ticket(
  // CHECK: %[[MSITE:.*]] = llvm.mlir.constant(11 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 6]
  // CHECK: llvm.call %{{.*}}(%[[MSITE]]) : !llvm.ptr, (i32) -> ()
  // CHECK: %[[ASITE:.*]] = llvm.mlir.constant(12 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 6]
  // CHECK: llvm.call %{{.*}}(%[[ASITE]]) : !llvm.ptr, (i32) -> ()
  // CHECK: llvm.mlir.constant(4 : i64) : i64
  // CHECK: %[[RW:.*]] = llvm.mlir.constant(11 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 8]
  // CHECK: llvm.call %{{.*}}(%arg0, %{{.*}}, %[[RW]], %[[ASITE]])
  // CHECK: llvm.atomicrmw add %arg0, %{{.*}} acq_rel : !llvm.ptr, i32
  // CHECK: getelementptr %{{.*}}[0, 6]
  // CHECK: llvm.cmpxchg
  // CHECK: getelementptr %{{.*}}[0, 6]
  // CHECK: llvm.fence acquire
  llvm.func @ticket(%counter: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %one = llvm.mlir.constant(1 : i32) : i32
    nvvm.memory.barrier <gpu>
    %old = llvm.atomicrmw add %counter, %one acq_rel : !llvm.ptr, i32
    %pair = llvm.cmpxchg %counter, %old, %one acq_rel monotonic : !llvm.ptr, i32
    llvm.fence acquire
    llvm.return
  }

  // The thread's own memory is not checked, even through a descriptor or
  // an aligned malloc; libdevice calls call libm; f32 -> bf16 is integer
  // code (round to nearest even).
  // CHECK-LABEL: llvm.func internal @private_memory(
  // CHECK-NOT: getelementptr %{{.*}}[0, 8]
  // CHECK: llvm.store
  // CHECK: llvm.load
  // CHECK: llvm.call @expf(%{{.*}}) : (f32) -> f32
  // CHECK: llvm.call @fabsf(%{{.*}}) : (f32) -> f32
  // CHECK: llvm.mlir.constant(32767 : i32)
  // CHECK: llvm.icmp "ugt"
  // CHECK: llvm.trunc %{{.*}} : i32 to i16
  // CHECK: llvm.bitcast %{{.*}} : i16 to bf16
  // CHECK-NOT: fptrunc
  // CHECK: llvm.store %{{.*}}, %{{.*}} : bf16, !llvm.ptr
  // CHECK: llvm.return
  llvm.func @private_memory(%x: f32, %out: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %one = llvm.mlir.constant(1 : i64) : i64
    %buf = llvm.alloca %one x f32 : (i64) -> !llvm.ptr
    %undef = llvm.mlir.undef : !llvm.struct<(ptr, ptr)>
    %desc = llvm.insertvalue %buf, %undef[1] : !llvm.struct<(ptr, ptr)>
    %p = llvm.extractvalue %desc[1] : !llvm.struct<(ptr, ptr)>
    llvm.store %x, %p : f32, !llvm.ptr
    %y = llvm.load %p : !llvm.ptr -> f32
    %bytes = llvm.mlir.constant(64 : i64) : i64
    %heap = llvm.call @malloc(%bytes) : (i64) -> !llvm.ptr
    %int = llvm.ptrtoint %heap : !llvm.ptr to i64
    %mask = llvm.mlir.constant(-16 : i64) : i64
    %rounded = llvm.and %int, %mask : i64
    %aligned = llvm.inttoptr %rounded : i64 to !llvm.ptr
    llvm.store %y, %aligned : f32, !llvm.ptr
    %e = llvm.call @__nv_expf(%y) : (f32) -> f32
    %a = llvm.call @__nv_fabsf(%e) : (f32) -> f32
    %h = llvm.fptrunc %a : f32 to bf16
    llvm.store %h, %out : bf16, !llvm.ptr
    llvm.return
  }
  llvm.func @malloc(i64) -> !llvm.ptr

  // A pointer whose origins disagree (a parameter or the stack) is checked
  // without a memory space: the runtime places it by address.
  // CHECK-LABEL: llvm.func internal @mixed(
  // CHECK: ^bb2(%[[MIXED:.*]]: !llvm.ptr):
  // CHECK: %[[READ:.*]] = llvm.mlir.constant(2 : i32) : i32
  // CHECK: getelementptr %{{.*}}[0, 8]
  // CHECK: llvm.call %{{.*}}(%[[MIXED]], %{{.*}}, %[[READ]], %{{.*}})
  // CHECK: llvm.load %[[MIXED]]
  llvm.func @mixed(%flag: i1, %param: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %one = llvm.mlir.constant(1 : i64) : i64
    %buf = llvm.alloca %one x f32 : (i64) -> !llvm.ptr
    llvm.cond_br %flag, ^a, ^b(%buf : !llvm.ptr)
  ^a:
    llvm.br ^b(%param : !llvm.ptr)
  ^b(%p: !llvm.ptr):
    %v = llvm.load %p : !llvm.ptr -> f32
    llvm.store %v, %param : f32, !llvm.ptr
    llvm.return
  }

  // Device functions become internal too and get no entry.
  // CHECK-LABEL: llvm.func internal @helper(
  // CHECK-NOT: __moe_emu_kernel_helper
  llvm.func @helper(%p: !llvm.ptr) {
    nvvm.barrier0
    llvm.return
  }

  // LLVM's e4m3 mma.sync m16n8k32 intrinsic: the same slot, type 2
  // (MOERT_EMU_MMA_E4M3); its registers hold four e4m3 each.
  // CHECK-LABEL: llvm.func internal @mma_e4m3(
  // CHECK-SAME: %[[A:[^:]*]]: i32, %[[B:[^:]*]]: i32, %[[C:[^:]*]]: f32
  // CHECK: %[[ABUF:.*]] = llvm.alloca %{{.*}} x !llvm.array<4 x i32>
  // CHECK: %[[BBUF:.*]] = llvm.alloca %{{.*}} x !llvm.array<2 x i32>
  // CHECK: %[[CBUF:.*]] = llvm.alloca %{{.*}} x !llvm.array<4 x f32>
  // CHECK: %[[DBUF:.*]] = llvm.alloca %{{.*}} x !llvm.array<4 x f32>
  // CHECK: %[[B1:.*]] = llvm.getelementptr %[[BBUF]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<2 x i32>
  // CHECK: llvm.store %[[B]], %[[B1]] : i32, !llvm.ptr
  // CHECK: %[[E4M3:.*]] = llvm.mlir.constant(2 : i32) : i32
  // CHECK: llvm.call %{{.*}}(%[[E4M3]], %{{.*}}, %[[ABUF]], %[[BBUF]], %[[CBUF]], %[[DBUF]])
  // CHECK-NOT: llvm.call_intrinsic
  // CHECK: llvm.return
  llvm.func @mma_e4m3(%a: i32, %b: i32, %c: f32, %out: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    %d = llvm.call_intrinsic "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32"(%a, %a, %a, %a, %b, %b, %c, %c, %c, %c) : (i32, i32, i32, i32, i32, i32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
    llvm.store %d0, %out : f32, !llvm.ptr
    llvm.return
  }
}

// The sites, in walk order, per kind and function; the counts; the ABI
// version of moert_emu_abi.h.
// CHECK: llvm.mlir.global private constant @__moe_emu_site_0("barrier0 #0 in registers at {{.*}}nvvm-to-emulator.mlir:{{[0-9]+}}:5\00")
// CHECK: @__moe_emu_site_1("store #0 in registers at
// CHECK: @__moe_emu_site_2("mma.sync #0 in mma at
// CHECK: @__moe_emu_site_3("mma.sync #1 in mma at
// CHECK: @__moe_emu_site_4("store #0 in mma at
// CHECK: @__moe_emu_site_5("cp.async #0 in staging at
// CHECK: @__moe_emu_site_6("cp.async #1 in staging at
// CHECK: @__moe_emu_site_7("cp.async.wait.group #0 in staging at
// CHECK: @__moe_emu_site_8("barrier0 #0 in staging at
// CHECK: @__moe_emu_site_9("load #0 in staging at
// CHECK: @__moe_emu_site_10("store #0 in staging at
// CHECK: @__moe_emu_site_11("memory.barrier #0 in ticket at
// CHECK: @__moe_emu_site_12("atomicrmw #0 in ticket at
// CHECK: @__moe_emu_site_13("cmpxchg #0 in ticket at
// CHECK: @__moe_emu_site_14("fence #0 in ticket at
// CHECK: @__moe_emu_site_19("mma.sync #0 in mma_e4m3 at
// CHECK: llvm.mlir.global external constant @__moe_emu_sites() {{.*}} : !llvm.array<[[N:[0-9]+]] x ptr>
// CHECK: llvm.mlir.addressof @__moe_emu_site_0 : !llvm.ptr
// CHECK: llvm.mlir.global external constant @__moe_emu_num_sites([[N]] : i32)
// CHECK: llvm.mlir.global external constant @__moe_emu_abi_version(2 : i32)

gpu.module @other_chip [#nvvm.target<chip = "sm_80">] {
  llvm.func @k() attributes {gpu.kernel, nvvm.kernel} {
    nvvm.barrier0
    llvm.return
  }
}
