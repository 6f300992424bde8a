// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-nvvm-to-emulator

// An NVVM operation the emulator has no call for.
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%v: i32) attributes {gpu.kernel, nvvm.kernel} {
    %mask = llvm.mlir.constant(-1 : i32) : i32
    %off = llvm.mlir.constant(1 : i32) : i32
    %clamp = llvm.mlir.constant(31 : i32) : i32
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.shfl.sync}}
    %r = nvvm.shfl.sync bfly %mask, %v, %off, %clamp : i32 -> i32
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k() attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.read.ptx.sreg.clock}}
    %c = nvvm.read.ptx.sreg.clock : i32
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%id: i32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.barrier with a barrier id, thread count or reduction}}
    nvvm.barrier id = %id
    llvm.return
  }
}

// -----

// Only m16n8k16 with f32 accumulators.
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%a: vector<2xf16>, %c: f32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.mma.sync of shape m16n8k8}}
    %d = nvvm.mma.sync A[%a, %a] B[%a] C[%c, %c, %c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         shape = #nvvm.shape<m = 16, n = 8, k = 8>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%a: vector<2xf16>, %c: vector<2xf16>) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.mma.sync with other accumulators than four f32}}
    %d = nvvm.mma.sync A[%a, %a, %a, %a] B[%a, %a] C[%c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> !llvm.struct<(vector<2xf16>, vector<2xf16>)>
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%a: i32, %c: i32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of nvvm.mma.sync with s8 and s8 multiplicands}}
    %d = nvvm.mma.sync A[%a, %a] B[%a] C[%c, %c, %c, %c]
        {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
         multiplicandAPtxType = #nvvm.mma_type<s8>, multiplicandBPtxType = #nvvm.mma_type<s8>,
         intOverflowBehavior = #nvvm.mma_int_overflow<satfinite>,
         shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
    llvm.return
  }
}

// -----

// A libdevice function without a C library namesake.
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @__nv_saturatef(f32) -> f32
  llvm.func @k(%x: f32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of libdevice function __nv_saturatef}}
    %y = llvm.call @__nv_saturatef(%x) : (f32) -> f32
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of static shared memory (@tile): only dynamic shared memory (a zero-sized array) is emulated}}
  llvm.mlir.global internal @tile() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<256 x f32>
}

// -----

// Twice is once too many.
// expected-error @+1 {{moe-nvvm-to-emulator: the module is converted already}}
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.mlir.global external @__moe_emu_api() {addr_space = 0 : i32} : !llvm.array<9 x ptr>
}

// -----

// Of LLVM's NVVM intrinsics called by name, only the e4m3 mma.sync.
gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%v: i32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of llvm.nvvm.mma.m16n8k32.row.col.s32.s8.s8.s32 (of LLVM's NVVM intrinsics, only llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32)}}
    %r = llvm.call_intrinsic "llvm.nvvm.mma.m16n8k32.row.col.s32.s8.s8.s32"(%v, %v, %v, %v, %v, %v, %v, %v, %v, %v) : (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
    llvm.return
  }
}

// -----

gpu.module @kernels [#nvvm.target<chip = "sm_90">] {
  llvm.func @k(%v: i32, %c: f32) attributes {gpu.kernel, nvvm.kernel} {
    // expected-error @+1 {{moe-nvvm-to-emulator: no emulation of llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32 but with 4 + 2 i32 registers and four f32 accumulators}}
    %r = llvm.call_intrinsic "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32"(%v, %v, %v, %v, %v, %c, %c, %c, %c) : (i32, i32, i32, i32, i32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    llvm.return
  }
}
