// EmuFiberSwitch.S - the fiber context switch of the SIMT emulator (x86-64
// System V). moert_emu_switch(void **save_sp, void *new_sp) pushes the
// callee-saved registers and the MXCSR / x87 control words, stores the stack
// pointer in *save_sp, loads new_sp and pops the same frame from it.
// moert_emu_fiber_start is where a new fiber's first switch returns to: the
// frame built by Fiber::start holds the entry in r12 and its argument in rbx.
#if defined(__x86_64__)
        .text
        .globl  moert_emu_switch
        .hidden moert_emu_switch
        .type   moert_emu_switch,@function
moert_emu_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   moert_emu_switch,.-moert_emu_switch

        .globl  moert_emu_fiber_start
        .hidden moert_emu_fiber_start
        .type   moert_emu_fiber_start,@function
moert_emu_fiber_start:
        .cfi_startproc
        .cfi_undefined rip
        movq    %rbx, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   moert_emu_fiber_start,.-moert_emu_fiber_start
#endif
        .section .note.GNU-stack,"",@progbits
