/*===- moert.h - C API of the MoE kernel runtime ----------------*- C -*-===*\
|*                                                                            *|
|* Loads a kernel manifest written by `moe-translate --emit-kernels`          *|
|* (docs/kernel-manifest.md), packs a layer's weights from safetensors files  *|
|* and runs the layer's kernels, on a CUDA GPU or on the host CPU.            *|
|*                                                                            *|
|* Every function that can fail returns a moert_status; on failure            *|
|* moert_last_error() gives a message. A moert_layer is not thread-safe: use  *|
|* one layer from one thread at a time (distinct layers are independent).     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOERT_MOERT_H
#define MOERT_MOERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MOERT_API __attribute__((visibility("default")))
#else
#define MOERT_API
#endif

/** One loaded MoE layer function with its kernels, weights and workspaces. */
typedef struct moert_layer moert_layer;

/** Where the kernels run. */
typedef enum moert_backend {
  /** The CPU, host pointers: the layer's CPU form (the manifest's "cpu"
   *  library, vector code for an instruction set) where this CPU has that
   *  instruction set, else the portable host_library (the GPU kernels'
   *  form built for any CPU of the architecture). */
  MOERT_BACKEND_CPU = 0,
  /** The cubin (or PTX) for the current CUDA device; device pointers. */
  MOERT_BACKEND_CUDA = 1,
  /** The CUDA path on the SIMT emulator: the manifest's emulator library
   *  (the same NVVM module as the cubin, built for the host) runs on the
   *  CPU with CUDA's semantics; "device" memory is host memory that only
   *  the layer's own allocations and the caller's input and output may
   *  be touched through. See moert_layer_load_emulated. */
  MOERT_BACKEND_CUDA_EMU = 2,
  /** The portable host_library alone, even where the CPU form would run. */
  MOERT_BACKEND_CPU_PORTABLE = 3
} moert_backend;

typedef enum moert_status {
  MOERT_SUCCESS = 0,
  MOERT_ERROR_INVALID_ARGUMENT, /**< a NULL pointer, T < 1, a bad index... */
  MOERT_ERROR_IO,               /**< a file could not be opened or read */
  MOERT_ERROR_MANIFEST,         /**< the manifest is malformed or invalid */
  MOERT_ERROR_WEIGHTS,        /**< a bad safetensors file, or weights missing */
  MOERT_ERROR_BACKEND,        /**< CUDA driver / host library failure */
  MOERT_ERROR_OUT_OF_MEMORY,  /**< host or device allocation failed */
  MOERT_ERROR_TOO_MANY_TOKENS /**< tokens > the manifest's max_tokens */
} moert_status;

/** The enumerator's name, e.g. "MOERT_ERROR_IO"; "unknown" for others. */
MOERT_API const char *moert_status_name(moert_status status);

/**
 * The message of the last failed call made by this thread ("" if none).
 * Valid until this thread's next failing call. Successful calls leave it.
 */
MOERT_API const char *moert_last_error(void);

/**
 * Loads one layer function of the manifest at `manifest_path`.
 * `function`: the layer's "function" name, or NULL for the first layer.
 * CPU: dlopen()s the host library and resolves `_mlir_<symbol>` per kernel.
 * CUDA: uses the current context's device (device 0 when there is none),
 * retains its primary context and makes it current, and loads the target
 * whose chip equals the device's compute capability; otherwise the highest
 * lower chip (its cubin within the same major version, else its PTX).
 * On success stores a new layer in *out (free it with moert_layer_destroy).
 */
MOERT_API moert_status moert_layer_load(const char *manifest_path,
                                        const char *function,
                                        moert_backend backend,
                                        moert_layer **out);

/** Settings of the cuda-emu backend; zero-initialise, then set fields. */
typedef struct moert_emu_options {
  /** The chip whose module runs ("sm_80", "sm_90"); NULL: the highest chip
   *  that has an emulator library. */
  const char *chip;
  /** Blocks run in grid order when 0; else in an order shuffled by this
   *  seed (the last block to finish is then not the last in the grid). */
  uint64_t shuffle_seed;
  /** Blocks in flight at once: 0 or 1, or 2 (interleaved at barriers,
   *  fences and atomics, so the atomic tickets meet a rival block). */
  int concurrent_blocks;
  /** Nonzero: no bounds and race checks (faster; barriers, warps and
   *  cp.async groups are still checked). */
  int unchecked;
  /** Nonzero: count, per launch, what a profiler would (DRAM sectors,
   *  coalescing, bank conflicts, mma rows, ...; docs/emulator-profile.md);
   *  implies the checks. Read with moert_layer_emu_profile_json. */
  int profile;
  /** 0 or 1: run every block. S > 1 (with profile): in launches whose grid
   *  has three columns (grid y) or more, run only the columns y % S == 0
   *  (S at most grid y - 1, so that two run at least) and
   *  scale the profile's counts to the whole grid, for profiles of shapes
   *  too large to emulate whole; the layer's output is then incomplete. */
  unsigned profile_column_stride;
  /** When not NULL: told how far each launch is, for a tool to show on a
   *  terminal. Called with the kernel's symbol, the launch's index (0 for
   *  the layer's first launch, counting across runs), the blocks finished
   *  and the blocks to run: when a launch starts (0 finished), at most
   *  about once a second while it runs, and when it ends (all finished).
   *  Called on the thread that runs the layer. */
  void (*progress)(void *user, const char *kernel, uint64_t launch,
                   uint64_t blocks_done, uint64_t blocks);
  void *progress_user;
} moert_emu_options;

/**
 * moert_layer_load with MOERT_BACKEND_CUDA_EMU and these settings (NULL:
 * all defaults). Errors found while running (a race, an access outside
 * every buffer, a barrier not all threads reach, a warp short of lanes at
 * mma.sync) fail moert_layer_run with MOERT_ERROR_BACKEND and a message
 * naming the kernel, block, threads and source location.
 */
MOERT_API moert_status
moert_layer_load_emulated(const char *manifest_path, const char *function,
                          const moert_emu_options *options, moert_layer **out);

/** What the emulator counted so far, for a layer on the cuda-emu backend
 *  (all zero on other backends). */
typedef struct moert_emu_stats {
  uint64_t launches, blocks, threads, barriers, mmas, async_copies,
      checked_accesses;
  /** Per launch, the distinct 32-byte sectors read from weight buffers,
   *  times 32, summed: the weight bytes DRAM would serve if the caches
   *  caught all reuse within a launch (quantized weights: values and
   *  scales). */
  uint64_t weight_sector_bytes;
} moert_emu_stats;
MOERT_API moert_status moert_layer_emu_stats(const moert_layer *layer,
                                             moert_emu_stats *out);

/** With moert_emu_options.profile: the launches so far as a JSON object
 *  {"kernels": [...]} (keys in docs/emulator-profile.md), NUL-terminated
 *  in `buffer` when `size` is large enough; `*length` (when not NULL)
 *  gets the size needed, NUL included. MOERT_ERROR_INVALID_ARGUMENT when
 *  the layer does not profile. */
MOERT_API moert_status moert_layer_emu_profile_json(const moert_layer *layer,
                                                    char *buffer, size_t size,
                                                    size_t *length);

/**
 * Runs every weight_packing step whose tensor (with "{L}" replaced by
 * `decoder_layer`) is in this safetensors file; call once per shard file.
 * Each step is checked (tensor rank, dtype, bounds) before anything is
 * written. `decoder_layer` must be in the manifest's decoder_layers when
 * that list is non-empty. Calling with another decoder_layer than the
 * previous call starts every weight over; loading a tensor again into a
 * weight that was complete starts that weight over.
 */
MOERT_API moert_status moert_layer_load_weights(moert_layer *layer,
                                                const char *safetensors_path,
                                                int64_t decoder_layer);

/**
 * Allocates workspaces large enough for every token count in
 * [1, max_tokens], so that later runs up to that count allocate nothing
 * (needed before capturing a run in a CUDA graph). Only grows.
 * MOERT_ERROR_TOO_MANY_TOKENS above the manifest's max_tokens.
 */
MOERT_API moert_status moert_layer_reserve(moert_layer *layer,
                                           int64_t max_tokens);

/**
 * Runs the layer on `tokens` rows: input and output are dense
 * [tokens, hidden_size] arrays of the layer's dtype (see moert_layer_io_bytes);
 * input 16-byte aligned (the expert kernels copy its rows 16 bytes at a time).
 * CUDA: device pointers, `stream` a CUstream (NULL: the legacy default
 * stream); asynchronous, nothing synchronises with the host unless
 * workspaces must grow (tokens above the reserved count). CPU: host pointers,
 * `stream` ignored, returns when done.
 * Fails with MOERT_ERROR_WEIGHTS if some weight element was never packed,
 * MOERT_ERROR_INVALID_ARGUMENT if tokens < 1 or input is NULL or not
 * 16-byte aligned, MOERT_ERROR_TOO_MANY_TOKENS if
 * tokens > max_tokens.
 */
MOERT_API moert_status moert_layer_run(moert_layer *layer, const void *input,
                                       void *output, int64_t tokens,
                                       void *stream);

/** Frees the layer's memory, module/library and context. NULL is a no-op. */
MOERT_API void moert_layer_destroy(moert_layer *layer);

/* Introspection. Each returns NULL / -1 for a NULL layer or a bad index.  */

/** The layer's function name, e.g. "moe_layer_0". */
MOERT_API const char *moert_layer_function(const moert_layer *layer);
/** The activation dtype name: "f32", "f16" or "bf16". */
MOERT_API const char *moert_layer_dtype(const moert_layer *layer);
/** H, the row length of input and output. */
MOERT_API int64_t moert_layer_hidden_size(const moert_layer *layer);
/** The largest token count a run accepts. */
MOERT_API int64_t moert_layer_max_tokens(const moert_layer *layer);
/** The token count workspaces are currently sized for (0 before any). */
MOERT_API int64_t moert_layer_reserved_tokens(const moert_layer *layer);
/** Bytes of the input (and of the output) for `tokens` rows; -1 if tokens
 *  is outside [1, max_tokens]. */
MOERT_API int64_t moert_layer_io_bytes(const moert_layer *layer,
                                       int64_t tokens);
/** Bytes currently allocated for workspaces. */
MOERT_API int64_t moert_layer_workspace_bytes(const moert_layer *layer);
/** Weight elements not yet written by packing (0 when ready to run). */
MOERT_API int64_t
moert_layer_unpacked_weight_elements(const moert_layer *layer);
/** MOERT_SUCCESS when every weight element was packed, else
 *  MOERT_ERROR_WEIGHTS naming a tensor that no moert_layer_load_weights
 *  call has provided (what moert_layer_run would fail with). */
MOERT_API moert_status moert_layer_check_weights(const moert_layer *layer);
/** The checkpoint tensors the weight packing reads: count, then tensor i,
 *  each once, in the order of the manifest's first step that reads it; a
 *  "{L}" in a name stands for the decoder layer. With a sharded checkpoint,
 *  the files to pass to moert_layer_load_weights are those that the
 *  index's weight_map names for these tensors. */
MOERT_API int64_t moert_layer_num_tensors(const moert_layer *layer);
MOERT_API const char *moert_layer_tensor(const moert_layer *layer, int64_t i);
/** The CPU backend's form: "host" (the portable host_library) or the CPU
 *  form's instruction set, e.g. "x86-64-v4+avx512bf16"; else the chip
 *  loaded, e.g. "sm_90". */
MOERT_API const char *moert_layer_target(const moert_layer *layer);
/** The path of the cubin, PTX or host library that was loaded. */
MOERT_API const char *moert_layer_target_file(const moert_layer *layer);
/** The manifest's decoder_layers of this function: count, then entry i. */
MOERT_API int64_t moert_layer_num_decoder_layers(const moert_layer *layer);
MOERT_API int64_t moert_layer_decoder_layer(const moert_layer *layer,
                                            int64_t i);
/** The kernels: count, then symbol i (without the "_mlir_" prefix). */
MOERT_API int64_t moert_layer_num_kernels(const moert_layer *layer);
MOERT_API const char *moert_layer_kernel_symbol(const moert_layer *layer,
                                                int64_t i);
/** The launch sequence: count, then the kernel symbol of launch i. */
MOERT_API int64_t moert_layer_num_launches(const moert_layer *layer);
MOERT_API const char *moert_layer_launch_symbol(const moert_layer *layer,
                                                int64_t i);

#ifdef __cplusplus
}
#endif

#endif /* MOERT_MOERT_H */
