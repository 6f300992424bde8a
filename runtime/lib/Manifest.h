//===- Manifest.h - The kernel manifest, parsed and validated ---*- C++ -*-===//
//
// Reads manifest.json (docs/kernel-manifest.md) into plain structs and
// checks everything the runtime later relies on: names resolve, formulas
// parse, every size is non-negative and bounded for every T in
// [1, max_tokens], packing steps stay inside their buffers and cover each
// weight exactly once by count. Messages name the JSON path, e.g.
//   manifest.json: layers[0].kernels[2].grid[0]: unknown name 'N' in "..."
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_MANIFEST_H
#define MOERT_MANIFEST_H

#include "Error.h"
#include "Expr.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moe-support/StridedCopy.h"

namespace moert {

using moe::support::DType;

/// Limits that reject absurd manifests before anything is allocated.
struct ManifestLimits {
  static constexpr int64_t kMaxHiddenSize = int64_t(1) << 20;
  static constexpr int64_t kMaxTokens = int64_t(1) << 24;
  static constexpr int64_t kMaxBufferBytes = int64_t(1) << 40;
  static constexpr int64_t kMaxRank = 8;
  static constexpr int64_t kMaxDynamicSharedMemory = 256 * 1024;
  static constexpr int64_t kMaxBlockThreads = 1024;
  static constexpr int64_t kMaxGridX = 2147483647;
  static constexpr int64_t kMaxGridYZ = 65535;
};

enum class BufferKind { Input, Output, Weight, Workspace };

struct BufferDesc {
  std::string name;
  BufferKind kind;
  DType dtype;
  std::vector<Expr> shape;
  bool zeroInit = false;
  /// Weights only: the element count (their shapes are constant).
  int64_t weightElements = 0;

  /// The byte size at T = tokens (overflow-checked).
  Error bytesAt(int64_t tokens, int64_t &bytes) const;
  /// An upper bound of the byte size over T in [1, tokens].
  Error maxBytes(int64_t tokens, int64_t &bytes) const;
};

/// Copies a rows x cols strided view of a source tensor into a weight buffer
/// (offsets and strides in elements of the source / of the buffer).
/// A copy step (support's StridedCopy) from a checkpoint tensor into a
/// buffer.
struct PackStep : moe::support::StridedCopy {
  size_t buffer = 0;
  std::string tensor; ///< May contain "{L}" for the decoder layer.
};

struct KernelParam {
  enum class Kind { Buffer, Tokens };
  std::string name;
  Kind kind;
  size_t buffer = 0; ///< Buffer params only.
};

struct KernelDesc {
  std::string symbol;
  std::vector<KernelParam> params;
  std::array<uint32_t, 3> block;
  std::array<Expr, 3> grid;
  uint32_t dynamicSharedMemory = 0;
};

struct TargetDesc {
  std::string chip;   ///< "sm_90", "sm_90a", ...
  int capability = 0; ///< major * 10 + minor, e.g. 90.
  char suffix = 0;    ///< 0, 'a' (arch-specific) or 'f' (family).
  std::string cubin;  ///< Resolved path, empty if none (PTX only).
  std::string ptx;    ///< Resolved path, empty if none.
  /// The same module built for the SIMT emulator (moert_emu_abi.h);
  /// resolved path, empty if none.
  std::string emulator;
};

/// The layer's CPU form (the manifest's "cpu" entry), complete for a Layer
/// to run: the layer's input, weights and output with this form's own
/// workspaces, the layer's packing steps (their buffer indices into these
/// buffers), this form's kernels, launches and library.
struct CpuFormDesc {
  std::string library;               ///< Resolved path.
  std::string isa;                   ///< "x86-64-v4", "generic", ...
  std::vector<std::string> features; ///< Beyond the level ("avx512bf16").
  int64_t threads = 1;               ///< 1, N, or 0 (OpenMP's default).
  std::vector<BufferDesc> buffers;
  std::vector<PackStep> packing;
  std::vector<KernelDesc> kernels;
  std::vector<size_t> launches;
  size_t input = 0, output = 0;

  /// "x86-64-v4+avx512bf16".
  std::string name() const {
    std::string text = isa;
    for (const std::string &f : features)
      text += "+" + f;
    return text;
  }
};

struct LayerDesc {
  std::string function;
  std::vector<int64_t> decoderLayers;
  DType dtype;
  int64_t hiddenSize = 0;
  int64_t maxTokens = 0;
  std::vector<TargetDesc> targets;
  std::string hostLibrary; ///< Resolved path, empty if none.
  std::vector<BufferDesc> buffers;
  std::vector<PackStep> packing;
  std::vector<KernelDesc> kernels;
  std::vector<size_t> launches; ///< Indices into kernels.
  size_t input = 0, output = 0; ///< Indices into buffers.
  /// The CPU form, if the manifest has one (the CPU backend prefers it
  /// where the host has its instruction set).
  std::shared_ptr<CpuFormDesc> cpuForm;
};

struct Manifest {
  std::string model;
  std::vector<LayerDesc> layers;
};

/// Parses manifest text. `name` prefixes every message; relative file
/// names resolve against `directory`. Status MOERT_ERROR_MANIFEST.
Error parseManifest(const std::string &text, const std::string &name,
                    const std::string &directory, Manifest &out);

/// Reads and parses the file (MOERT_ERROR_IO if it cannot be read).
Error loadManifest(const std::string &path, Manifest &out);

/// Reads a whole file (at most `limit` bytes) into `out`.
Error readFile(const std::string &path, size_t limit, std::string &out);

} // namespace moert

#endif // MOERT_MANIFEST_H
