// moe_gpu_bench: times one MoE layer shape on the GPU, with no MLIR.
//
//   moe_gpu_bench cublas SHAPE --tokens 1,8,64 [--routing-dir DIR]
//                 [--weights FILE --layer L --out-dir DIR] [common]
//     Per-expert cuBLAS bf16 GEMMs (fp32 accumulate) as a straightforward
//     engine runs them, three ways:
//       cublas-gemm        gate_up [n_e,H]x[H,2I] and down [n_e,I]x[I,H] for
//                          each expert with n_e > 0 (and the shared expert,
//                          n = T); gather, activation and combine excluded
//       cublas-gemm-graph  the same launches replayed from one CUDA graph
//                          (launch gaps removed)
//       cublas-engine      gather + gate_up GEMMs + silu*up + down GEMMs +
//                          weighted combine: the whole expert part of the
//                          layer (routing is given, not computed)
//     With --weights (Hugging Face names) the engine's output is written to
//     DIR/cublas_T.safetensors for torch_reference.py to check.
//   moe_gpu_bench moert SHAPE --manifest FILE --weights FILE --layer L
//                 --tokens ... --routing-dir DIR --out-dir DIR [common]
//     Our emitted kernels through the moert runtime (CUDA backend): runs the
//     layer on DIR/tokens_T.safetensors:hidden_states, writes
//     DIR/moert_T.safetensors, times it eagerly and as a replayed CUDA graph
//     (a capture succeeds only if the layer never synchronises with the host).
//
//   SHAPE:  --family mixtral|qwen3_moe|deepseek_v3 --hidden H --inter I
//           --experts E --topk K [--shared 0|1] [--label NAME]
//   common: --warmup 5 --iters 30 --seed 1 --json FILE (appends JSON lines)
//           --flush-mb 256
//
// Every timed iteration starts with L2 flushed (a memset over a buffer larger
// than L2, outside the timed events): in a model the layer's weights are
// never in L2 when the layer starts. Times are medians of per-iteration CUDA
// event pairs.
//
// Byte and FLOP model (torch_reference.py work_of() is the same): bytes =
// bf16 weights of the routed experts that got >= 1 token and of the shared
// expert (3*H*I*2 each)
// + the input and output activations (2*T*H*2); FLOPs = 2 * rows * 3*H*I
// with rows = T*K routed + T per shared expert. The router is left out.

#include "moert_adapter.h"
#include "safetensors_io.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace moebench;

namespace {

// ---------------------------------------------------------------- errors

[[noreturn]] void fail(const std::string &msg) { throw std::runtime_error(msg); }

void checkCuda(cudaError_t e, const char *what, int line) {
  if (e != cudaSuccess)
    fail(std::string(what) + " (line " + std::to_string(line) + "): " + cudaGetErrorString(e));
}
void checkCublas(cublasStatus_t s, const char *what, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(std::string(what) + " (line " + std::to_string(line) + "): cuBLAS status " +
         std::to_string(static_cast<int>(s)));
}
#define CK(x) checkCuda((x), #x, __LINE__)
#define CB(x) checkCublas((x), #x, __LINE__)
#define CK_LAUNCH() CK(cudaGetLastError())

// ---------------------------------------------------------------- options

struct Shape {
  std::string family, label;
  int64_t H = 0, I = 0, E = 0, K = 0, S = 0; // S: shared experts (0 or 1)
};

struct Options {
  std::string mode;
  Shape shape;
  std::vector<int64_t> tokens;
  std::string routingDir, weights, outDir, manifest, json;
  int layer = 0, warmup = 5, iters = 30;
  uint64_t seed = 1;
  size_t flushBytes = 256ull << 20;
};

int64_t parseInt(const std::string &s, const char *what) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end || errno) fail(std::string("bad integer for ") + what + ": '" + s + "'");
  return v;
}

const char *kUsage =
    "usage: moe_gpu_bench cublas|moert --family F --hidden H --inter I --experts E\n"
    "         --topk K [--shared 0|1] [--label NAME] --tokens 1,8,...\n"
    "         [--routing-dir DIR] [--weights FILE] [--layer L] [--out-dir DIR]\n"
    "         [--manifest FILE] [--warmup N] [--iters N] [--seed N] [--json FILE]\n"
    "         [--flush-mb N]\n";

Options parseArgs(int argc, char **argv) {
  if (argc < 2) fail(kUsage);
  Options o;
  o.mode = argv[1];
  if (o.mode != "cublas" && o.mode != "moert") fail(kUsage);
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) fail("missing value for " + k + "\n" + kUsage);
    std::string v = argv[++i];
    if (k == "--family") o.shape.family = v;
    else if (k == "--label") o.shape.label = v;
    else if (k == "--hidden") o.shape.H = parseInt(v, "--hidden");
    else if (k == "--inter") o.shape.I = parseInt(v, "--inter");
    else if (k == "--experts") o.shape.E = parseInt(v, "--experts");
    else if (k == "--topk") o.shape.K = parseInt(v, "--topk");
    else if (k == "--shared") o.shape.S = parseInt(v, "--shared");
    else if (k == "--tokens") {
      std::stringstream ss(v);
      std::string t;
      while (std::getline(ss, t, ',')) o.tokens.push_back(parseInt(t, "--tokens"));
    } else if (k == "--routing-dir") o.routingDir = v;
    else if (k == "--weights") o.weights = v;
    else if (k == "--out-dir") o.outDir = v;
    else if (k == "--manifest") o.manifest = v;
    else if (k == "--json") o.json = v;
    else if (k == "--layer") o.layer = static_cast<int>(parseInt(v, "--layer"));
    else if (k == "--warmup") o.warmup = static_cast<int>(parseInt(v, "--warmup"));
    else if (k == "--iters") o.iters = static_cast<int>(parseInt(v, "--iters"));
    else if (k == "--seed") o.seed = static_cast<uint64_t>(parseInt(v, "--seed"));
    else if (k == "--flush-mb") o.flushBytes = static_cast<size_t>(parseInt(v, "--flush-mb")) << 20;
    else fail("unknown option " + k + "\n" + kUsage);
  }
  const Shape &s = o.shape;
  if (s.family != "mixtral" && s.family != "qwen3_moe" && s.family != "deepseek_v3")
    fail("--family must be mixtral, qwen3_moe or deepseek_v3");
  if (s.H <= 0 || s.I <= 0 || s.E <= 0 || s.K <= 0 || s.K > s.E || s.S < 0 || s.S > 1)
    fail("need positive --hidden/--inter/--experts, 1 <= --topk <= experts, --shared 0|1");
  // 16-byte vector copies in the gather kernel.
  if (s.H % 8 != 0) fail("--hidden must be a multiple of 8");
  if (o.tokens.empty()) fail("--tokens is required");
  for (int64_t t : o.tokens)
    if (t < 1 || t > (1 << 20)) fail("token counts must be in [1, 2^20]");
  if (o.iters < 1 || o.warmup < 0) fail("--iters >= 1, --warmup >= 0");
  if (o.mode == "moert" && (o.manifest.empty() || o.weights.empty() || o.routingDir.empty() ||
                            o.outDir.empty()))
    fail("moert needs --manifest, --weights, --routing-dir and --out-dir");
  if (!o.weights.empty() && o.mode == "cublas" && o.routingDir.empty())
    fail("cublas --weights needs --routing-dir (the inputs and routing the check uses)");
  if (o.shape.label.empty()) o.shape.label = o.shape.family;
  return o;
}

// ---------------------------------------------------------------- routing

// Rows are the (token, slot) pairs grouped by expert; the shared expert is
// expert E with every token and weight 1.
struct Plan {
  int64_t T = 0, slots = 0, rows = 0, active = 0;
  std::vector<int64_t> count, offset;          // per expert (E + S)
  std::vector<int32_t> rowToken;               // [rows]
  std::vector<int32_t> slotRow;                // [T * slots]
  std::vector<float> slotWeight;               // [T * slots]
};

Plan makePlan(const Shape &s, int64_t T, const std::vector<int32_t> &ids,
              const std::vector<float> &w) {
  Plan p;
  p.T = T;
  p.slots = s.K + s.S;
  const int64_t nExp = s.E + s.S;
  p.count.assign(nExp, 0);
  for (int64_t i = 0; i < T * s.K; ++i) {
    if (ids[i] < 0 || ids[i] >= s.E) fail("routing names expert " + std::to_string(ids[i]));
    p.count[ids[i]]++;
  }
  for (int64_t e = s.E; e < nExp; ++e) p.count[e] = T;
  p.offset.assign(nExp + 1, 0);
  for (int64_t e = 0; e < nExp; ++e) p.offset[e + 1] = p.offset[e] + p.count[e];
  p.rows = p.offset[nExp];
  for (int64_t e = 0; e < s.E; ++e) p.active += p.count[e] > 0;
  p.rowToken.assign(p.rows, 0);
  p.slotRow.assign(T * p.slots, 0);
  p.slotWeight.assign(T * p.slots, 0.f);
  std::vector<int64_t> fill(p.offset.begin(), p.offset.end() - 1);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < p.slots; ++j) {
      int64_t e = j < s.K ? ids[t * s.K + j] : s.E + (j - s.K);
      int64_t r = fill[e]++;
      p.rowToken[r] = static_cast<int32_t>(t);
      p.slotRow[t * p.slots + j] = static_cast<int32_t>(r);
      p.slotWeight[t * p.slots + j] = j < s.K ? w[t * s.K + j] : 1.f;
    }
  return p;
}

// Uniformly random distinct top-k experts per token, weights normalised.
Plan randomPlan(const Shape &s, int64_t T, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003u + T);
  std::vector<int32_t> ids(T * s.K);
  std::vector<float> w(T * s.K);
  std::vector<int32_t> perm(s.E);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t e = 0; e < s.E; ++e) perm[e] = static_cast<int32_t>(e);
    float sum = 0;
    for (int64_t j = 0; j < s.K; ++j) {
      std::uniform_int_distribution<int64_t> d(j, s.E - 1);
      std::swap(perm[j], perm[d(rng)]);
      ids[t * s.K + j] = perm[j];
      w[t * s.K + j] = std::uniform_real_distribution<float>(0.1f, 1.f)(rng);
      sum += w[t * s.K + j];
    }
    for (int64_t j = 0; j < s.K; ++j) w[t * s.K + j] /= sum;
  }
  return makePlan(s, T, ids, w);
}

std::string tokensFile(const std::string &dir, int64_t T) {
  return dir + "/tokens_" + std::to_string(T) + ".safetensors";
}

// torch_reference.py writes, per token count, tokens_T.safetensors with
// hidden_states BF16 [T,H], topk_ids I32 [T,K], topk_weights F32 [T,K]
// (the fp32 reference's routing) and reference F32 [T,H].
Plan filePlan(const Shape &s, const SafetensorsFile &f, int64_t T) {
  const TensorInfo &ids = f.get("topk_ids", DType::I32, {T, s.K});
  const TensorInfo &w = f.get("topk_weights", DType::F32, {T, s.K});
  std::vector<int32_t> vi(T * s.K);
  std::vector<float> vw(T * s.K);
  std::memcpy(vi.data(), ids.data, ids.bytes);
  std::memcpy(vw.data(), w.data, w.bytes);
  return makePlan(s, T, vi, vw);
}

// ---------------------------------------------------------------- kernels

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [-a, a]: random data (never zeros, which run faster on tensor
// cores and hide indexing bugs) when no weights file is given.
__global__ void initUniform(__nv_bfloat16 *p, size_t n, uint64_t seed, float a) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float u = (splitmix64(seed ^ (i * 0x2545f4914f6cdd1dull)) >> 40) * (1.0f / 16777216.0f);
    p[i] = __float2bfloat16((2.f * u - 1.f) * a);
  }
}

// xg[r] = x[rowToken[r]], 16 bytes per thread-step (H % 8 == 0).
__global__ void gatherRows(const __nv_bfloat16 *x, const int32_t *rowToken,
                           __nv_bfloat16 *xg, int64_t H) {
  const int64_t r = blockIdx.x;
  const uint4 *src = reinterpret_cast<const uint4 *>(x + (int64_t)rowToken[r] * H);
  uint4 *dst = reinterpret_cast<uint4 *>(xg + r * H);
  for (int64_t i = threadIdx.x; i < H / 8; i += blockDim.x) dst[i] = src[i];
}

// a[r, i] = silu(gu[r, i]) * gu[r, I + i]; gate_up rows are [w1; w3].
__global__ void siluMul(const __nv_bfloat16 *gu, __nv_bfloat16 *a, int64_t rows, int64_t I) {
  const int64_t n = rows * I;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = k / I, i = k - r * I;
    float g = __bfloat162float(gu[r * 2 * I + i]);
    float u = __bfloat162float(gu[r * 2 * I + I + i]);
    a[k] = __float2bfloat16(g / (1.f + __expf(-g)) * u);
  }
}

// out[t] = sum_j w[t, j] * y[slotRow[t, j]] in fp32; no atomics, so the
// result does not depend on scheduling.
__global__ void combine(const __nv_bfloat16 *y, const int32_t *slotRow, const float *slotW,
                        __nv_bfloat16 *out, int64_t slots, int64_t H) {
  const int64_t t = blockIdx.x;
  for (int64_t h = threadIdx.x; h < H; h += blockDim.x) {
    float acc = 0.f;
    for (int64_t j = 0; j < slots; ++j)
      acc += slotW[t * slots + j] * __bfloat162float(y[(int64_t)slotRow[t * slots + j] * H + h]);
    out[t * H + h] = __float2bfloat16(acc);
  }
}

// ---------------------------------------------------------------- device buffers

template <typename T> struct DevBuf {
  T *p = nullptr;
  size_t n = 0;
  DevBuf() = default;
  DevBuf(const DevBuf &) = delete;
  DevBuf &operator=(const DevBuf &) = delete;
  ~DevBuf() { if (p) cudaFree(p); }
  void alloc(size_t count) {
    if (count <= n) return;
    if (p) CK(cudaFree(p));
    p = nullptr;
    CK(cudaMalloc(&p, count * sizeof(T)));
    n = count;
  }
  void upload(const T *host, size_t count) {
    alloc(count);
    CK(cudaMemcpy(p, host, count * sizeof(T), cudaMemcpyHostToDevice));
  }
};

using Bf16Buf = DevBuf<__nv_bfloat16>;

void randomFill(Bf16Buf &b, size_t n, uint64_t seed, float a) {
  initUniform<<<1024, 256>>>(b.p, n, seed, a);
  CK_LAUNCH();
}

// ---------------------------------------------------------------- timing

// Evicts L2 before each timed iteration (see the header comment).
struct Flusher {
  DevBuf<char> buf;
  explicit Flusher(size_t bytes) {
    int dev = 0, l2 = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    buf.alloc(std::max(bytes, static_cast<size_t>(l2) * 4));
  }
  void flush(cudaStream_t s) { CK(cudaMemsetAsync(buf.p, 0, buf.n, s)); }
};

struct Stats {
  double medianUs = 0, minUs = 0, meanUs = 0;
  int iters = 0;
};

Stats timeIt(cudaStream_t s, Flusher &fl, int warmup, int iters,
             const std::function<void()> &body) {
  for (int i = 0; i < warmup; ++i) {
    fl.flush(s);
    body();
  }
  CK(cudaStreamSynchronize(s));
  std::vector<cudaEvent_t> ev(2 * iters);
  for (auto &e : ev) CK(cudaEventCreate(&e));
  for (int i = 0; i < iters; ++i) {
    fl.flush(s);
    CK(cudaEventRecord(ev[2 * i], s));
    body();
    CK(cudaEventRecord(ev[2 * i + 1], s));
  }
  CK(cudaStreamSynchronize(s));
  std::vector<double> us(iters);
  for (int i = 0; i < iters; ++i) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, ev[2 * i], ev[2 * i + 1]));
    us[i] = ms * 1e3;
  }
  for (auto &e : ev) CK(cudaEventDestroy(e));
  Stats st;
  st.iters = iters;
  std::sort(us.begin(), us.end());
  st.medianUs = iters % 2 ? us[iters / 2] : 0.5 * (us[iters / 2 - 1] + us[iters / 2]);
  st.minUs = us.front();
  for (double u : us) st.meanUs += u / iters;
  return st;
}

// ---------------------------------------------------------------- reporting

struct Work {
  double weightBytes = 0, bytes = 0, flops = 0;
};

Work workOf(const Shape &s, const Plan &p) {
  Work w;
  const double expertBytes = 3.0 * s.H * s.I * 2; // gate + up + down, bf16
  w.weightBytes = (p.active + s.S) * expertBytes;
  w.bytes = w.weightBytes + 2.0 * p.T * s.H * 2;
  w.flops = 2.0 * p.rows * 3.0 * s.H * s.I;
  return w;
}

std::string jsonEscape(const std::string &in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out;
}

struct Reporter {
  const Options &o;
  FILE *json = nullptr;
  std::string device;
  explicit Reporter(const Options &opts) : o(opts) {
    int dev = 0;
    cudaDeviceProp prop;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    device = prop.name;
    if (!o.json.empty() && !(json = std::fopen(o.json.c_str(), "a")))
      fail("cannot open " + o.json);
    std::printf("# %s on %s; L2 flushed before every timed iteration; median of %d\n",
                o.shape.label.c_str(), device.c_str(), o.iters);
    std::printf("%-18s %6s %9s %11s %9s %9s %8s  %s\n", "impl", "tokens", "median_us",
                "weights_MB", "GB/s", "TFLOP/s", "experts", "note");
  }
  ~Reporter() { if (json) std::fclose(json); }

  void record(const std::string &impl, const Plan &p, const Stats &st, const std::string &note) {
    Work w = workOf(o.shape, p);
    double sec = st.medianUs * 1e-6;
    std::printf("%-18s %6lld %9.1f %11.1f %9.1f %9.2f %8lld  %s\n", impl.c_str(),
                (long long)p.T, st.medianUs, w.weightBytes / 1e6, w.bytes / sec / 1e9,
                w.flops / sec / 1e12, (long long)p.active, note.c_str());
    std::fflush(stdout);
    if (!json) return;
    std::fprintf(json,
                 "{\"impl\":\"%s\",\"model\":\"%s\",\"family\":\"%s\",\"device\":\"%s\","
                 "\"tokens\":%lld,\"hidden\":%lld,\"inter\":%lld,\"experts\":%lld,\"topk\":%lld,"
                 "\"shared\":%lld,\"median_us\":%.3f,\"min_us\":%.3f,\"mean_us\":%.3f,"
                 "\"iters\":%d,\"warmup\":%d,\"active_experts\":%lld,\"rows\":%lld,"
                 "\"expert_weight_bytes\":%.0f,\"bytes\":%.0f,\"flops\":%.0f,"
                 "\"gbps\":%.3f,\"tflops\":%.4f,\"l2_flushed\":true,\"note\":\"%s\"}\n",
                 impl.c_str(), jsonEscape(o.shape.label).c_str(), o.shape.family.c_str(),
                 jsonEscape(device).c_str(), (long long)p.T, (long long)o.shape.H,
                 (long long)o.shape.I, (long long)o.shape.E, (long long)o.shape.K,
                 (long long)o.shape.S, st.medianUs, st.minUs, st.meanUs, st.iters, o.warmup,
                 (long long)p.active, (long long)p.rows, w.weightBytes, w.bytes, w.flops,
                 w.bytes / sec / 1e9, w.flops / sec / 1e12, jsonEscape(note).c_str());
    std::fflush(json);
  }

  void error(const std::string &impl, int64_t T, const std::string &msg) {
    std::printf("%-18s %6lld  FAILED: %s\n", impl.c_str(), (long long)T, msg.c_str());
    std::fflush(stdout);
    if (json) {
      std::fprintf(json, "{\"impl\":\"%s\",\"model\":\"%s\",\"tokens\":%lld,\"error\":\"%s\"}\n",
                   impl.c_str(), jsonEscape(o.shape.label).c_str(), (long long)T,
                   jsonEscape(msg).c_str());
      std::fflush(json);
    }
  }
};

// Copies a [rows, cols] BF16 or F32 tensor to the device as bf16 at `dst`.
void uploadWeight(const SafetensorsFile &f, const std::string &name, int64_t rows,
                  int64_t cols, __nv_bfloat16 *dst) {
  const TensorInfo &t = f.get(name);
  if (t.shape != std::vector<int64_t>{rows, cols})
    fail(f.path() + ": '" + name + "' has the wrong shape (expected [" +
         std::to_string(rows) + "," + std::to_string(cols) + "])");
  if (t.dtype == DType::BF16) {
    CK(cudaMemcpy(dst, t.data, t.bytes, cudaMemcpyHostToDevice));
  } else if (t.dtype == DType::F32) {
    std::vector<uint16_t> tmp(rows * cols);
    // element() reads the (possibly unaligned) little-endian bytes.
    for (size_t i = 0; i < tmp.size(); ++i) tmp[i] = moe::support::floatToBfloat16(t.element(i));
    CK(cudaMemcpy(dst, tmp.data(), tmp.size() * 2, cudaMemcpyHostToDevice));
  } else {
    fail(f.path() + ": '" + name + "' must be BF16 or F32");
  }
}

// Hugging Face tensor names of routed expert e (e < E) or the shared expert
// (e == E); which: 0 gate, 1 up, 2 down.
std::string hfName(const Shape &s, int layer, int64_t e, int which) {
  std::string L = "model.layers." + std::to_string(layer) + ".";
  if (s.family == "mixtral") {
    static const char *w[] = {"w1", "w3", "w2"};
    return L + "block_sparse_moe.experts." + std::to_string(e) + "." + w[which] + ".weight";
  }
  static const char *w[] = {"gate_proj", "up_proj", "down_proj"};
  std::string owner = e < s.E ? "mlp.experts." + std::to_string(e) : std::string("mlp.shared_experts");
  return L + owner + "." + w[which] + ".weight";
}

void writeBf16Output(const std::string &path, const __nv_bfloat16 *dOut, int64_t T, int64_t H,
                     int64_t *nonFinite) {
  std::vector<uint16_t> host(T * H);
  CK(cudaMemcpy(host.data(), dOut, host.size() * 2, cudaMemcpyDeviceToHost));
  *nonFinite = 0;
  for (uint16_t b : host) *nonFinite += (b & 0x7f80) == 0x7f80; // Inf or NaN
  writeSafetensors(path, {{"output", DType::BF16, {T, H}, host.data()}});
}

// ---------------------------------------------------------------- cublas mode

// C[n, N] = A[n, K] * W[N, K]^T, all row-major bf16, fp32 accumulate.
void gemm(cublasHandle_t h, const __nv_bfloat16 *A, const __nv_bfloat16 *W, __nv_bfloat16 *C,
          int64_t n, int64_t N, int64_t K) {
  const float one = 1.f, zero = 0.f;
  CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)n, (int)K, &one, W, CUDA_R_16BF,
                  (int)K, A, CUDA_R_16BF, (int)K, &zero, C, CUDA_R_16BF, (int)N,
                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

int runCublas(const Options &o) {
  const Shape &s = o.shape;
  const int64_t nExp = s.E + s.S, H = s.H, I = s.I;
  const int64_t maxT = *std::max_element(o.tokens.begin(), o.tokens.end());
  const int64_t maxRows = maxT * (s.K + s.S);
  if (2 * I > INT32_MAX || maxRows > INT32_MAX) fail("sizes exceed cuBLAS int dimensions");

  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t handle;
  CB(cublasCreate(&handle));
  CB(cublasSetStream(handle, stream));
  // A fixed workspace keeps cuBLAS from allocating during graph capture.
  DevBuf<char> cublasWs;
  cublasWs.alloc(64ull << 20);
  CB(cublasSetWorkspace(handle, cublasWs.p, cublasWs.n));

  Reporter rep(o);
  Flusher flusher(o.flushBytes);

  // Weights: [nExp, 2I, H] gate_up (w1 rows then w3 rows) and [nExp, H, I].
  Bf16Buf gateUp, down;
  gateUp.alloc(nExp * 2 * I * H);
  down.alloc(nExp * H * I);
  const bool real = !o.weights.empty();
  if (real) {
    SafetensorsFile wf(o.weights);
    for (int64_t e = 0; e < nExp; ++e) {
      uploadWeight(wf, hfName(s, o.layer, e, 0), I, H, gateUp.p + e * 2 * I * H);
      uploadWeight(wf, hfName(s, o.layer, e, 1), I, H, gateUp.p + e * 2 * I * H + I * H);
      uploadWeight(wf, hfName(s, o.layer, e, 2), H, I, down.p + e * H * I);
    }
  } else {
    // std 1/sqrt(fan_in), as torch_reference.py draws them.
    randomFill(gateUp, gateUp.n, o.seed * 3 + 1, std::sqrt(3.f / H));
    randomFill(down, down.n, o.seed * 3 + 2, std::sqrt(3.f / I));
  }

  Bf16Buf x, xg, gu, act, y, out;
  x.alloc(maxT * H);
  xg.alloc(maxRows * H);
  gu.alloc(maxRows * 2 * I);
  act.alloc(maxRows * I);
  y.alloc(maxRows * H);
  out.alloc(maxT * H);
  // Inputs of the GEMM-only timing (it skips gather and activation):
  // random, not zeros, which run faster on tensor cores.
  randomFill(xg, xg.n, o.seed * 3 + 3, 1.f);
  randomFill(act, act.n, o.seed * 3 + 4, 1.f);
  DevBuf<int32_t> rowToken, slotRow;
  DevBuf<float> slotW;
  CK(cudaDeviceSynchronize());

  for (int64_t T : o.tokens) {
    try {
      Plan p;
      if (!o.routingDir.empty()) {
        SafetensorsFile tf(tokensFile(o.routingDir, T));
        p = filePlan(s, tf, T);
        const TensorInfo &hs = tf.get("hidden_states", DType::BF16, {T, H});
        CK(cudaMemcpy(x.p, hs.data, hs.bytes, cudaMemcpyHostToDevice));
      } else {
        p = randomPlan(s, T, o.seed);
        randomFill(x, T * H, o.seed * 7 + T, 1.f);
      }
      rowToken.upload(p.rowToken.data(), p.rowToken.size());
      slotRow.upload(p.slotRow.data(), p.slotRow.size());
      slotW.upload(p.slotWeight.data(), p.slotWeight.size());
      CK(cudaDeviceSynchronize());

      auto gemms = [&] {
        for (int64_t e = 0; e < nExp; ++e) {
          int64_t n = p.count[e], off = p.offset[e];
          if (n == 0) continue;
          gemm(handle, xg.p + off * H, gateUp.p + e * 2 * I * H, gu.p + off * 2 * I, n, 2 * I, H);
          gemm(handle, act.p + off * I, down.p + e * H * I, y.p + off * H, n, H, I);
        }
      };
      auto engine = [&] {
        gatherRows<<<(unsigned)p.rows, 128, 0, stream>>>(x.p, rowToken.p, xg.p, H);
        CK_LAUNCH();
        for (int64_t e = 0; e < nExp; ++e)
          if (p.count[e])
            gemm(handle, xg.p + p.offset[e] * H, gateUp.p + e * 2 * I * H,
                 gu.p + p.offset[e] * 2 * I, p.count[e], 2 * I, H);
        unsigned blocks = (unsigned)std::min<int64_t>((p.rows * I + 255) / 256, 65535);
        siluMul<<<blocks, 256, 0, stream>>>(gu.p, act.p, p.rows, I);
        CK_LAUNCH();
        for (int64_t e = 0; e < nExp; ++e)
          if (p.count[e])
            gemm(handle, act.p + p.offset[e] * I, down.p + e * H * I, y.p + p.offset[e] * H,
                 p.count[e], H, I);
        combine<<<(unsigned)T, 256, 0, stream>>>(y.p, slotRow.p, slotW.p, out.p, p.slots, H);
        CK_LAUNCH();
      };

      // Correctness first: the engine's output for the script to check.
      std::string note = real ? "HF weights" : "random weights";
      if (real && !o.outDir.empty()) {
        CK(cudaMemsetAsync(out.p, 0xff, T * H * 2, stream)); // poison: NaN
        engine();
        CK(cudaStreamSynchronize(stream));
        int64_t bad = 0;
        std::string path = o.outDir + "/cublas_" + std::to_string(T) + ".safetensors";
        writeBf16Output(path, out.p, T, H, &bad);
        if (bad) note += ", " + std::to_string(bad) + " non-finite outputs";
      }

      rep.record("cublas-gemm", p, timeIt(stream, flusher, o.warmup, o.iters, gemms),
                 note + "; gather/act/combine excluded");

      cudaGraph_t graph;
      cudaGraphExec_t exec;
      CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
      gemms();
      CK(cudaStreamEndCapture(stream, &graph));
      CK(cudaGraphInstantiate(&exec, graph, 0));
      rep.record("cublas-gemm-graph", p,
                 timeIt(stream, flusher, o.warmup, o.iters,
                        [&] { CK(cudaGraphLaunch(exec, stream)); }),
                 note + "; one graph of the GEMM launches");
      CK(cudaGraphExecDestroy(exec));
      CK(cudaGraphDestroy(graph));

      rep.record("cublas-engine", p, timeIt(stream, flusher, o.warmup, o.iters, engine),
                 note + "; gather+gemms+silu*up+combine, routing given");
    } catch (const std::exception &e) {
      rep.error("cublas", T, e.what());
      // A sticky CUDA error would make every later number meaningless.
      if (cudaDeviceSynchronize() != cudaSuccess) throw;
    }
  }
  CB(cublasDestroy(handle));
  CK(cudaStreamDestroy(stream));
  return 0;
}

// ---------------------------------------------------------------- moert mode


int runMoert(const Options &o) {
  const Shape &s = o.shape;
  const int64_t H = s.H;
  const int64_t maxT = *std::max_element(o.tokens.begin(), o.tokens.end());
  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Reporter rep(o);
  Flusher flusher(o.flushBytes);

  MoertLayer *layer = nullptr;
  try {
    layer = moertLoad(o.manifest, o.weights, o.layer, maxT);
    if (moertHiddenSize(layer) != H)
      fail("the manifest's hidden size " + std::to_string(moertHiddenSize(layer)) +
           " is not --hidden " + std::to_string(H));
  } catch (const std::exception &e) {
    rep.error("moert", 0, e.what());
    moertFree(layer);
    return 1;
  }
  std::printf("# moert: %s\n", moertDescribe(layer).c_str());
  Bf16Buf in, out, out2;
  in.alloc(maxT * H);
  out.alloc(maxT * H);
  out2.alloc(maxT * H);
  std::vector<uint16_t> eager(maxT * H), graphOut(maxT * H);

  int rc = 0;
  for (int64_t T : o.tokens) {
    try {
      SafetensorsFile tf(tokensFile(o.routingDir, T));
      Plan p = filePlan(s, tf, T); // the reference's routing, for the byte model
      const TensorInfo &hs = tf.get("hidden_states", DType::BF16, {T, H});
      CK(cudaMemcpy(in.p, hs.data, hs.bytes, cudaMemcpyHostToDevice));

      CK(cudaMemsetAsync(out.p, 0xff, T * H * 2, stream)); // poison: NaN
      moertRun(layer, in.p, out.p, T, stream);
      CK(cudaStreamSynchronize(stream));
      int64_t bad = 0;
      writeBf16Output(o.outDir + "/moert_" + std::to_string(T) + ".safetensors", out.p, T, H,
                      &bad);
      CK(cudaMemcpy(eager.data(), out.p, T * H * 2, cudaMemcpyDeviceToHost));
      std::string note = moertDescribe(layer);
      if (bad) note += "; " + std::to_string(bad) + " non-finite outputs";

      rep.record("moert", p,
                 timeIt(stream, flusher, o.warmup, o.iters,
                        [&] { moertRun(layer, in.p, out.p, T, stream); }),
                 note);

      // Capture one layer run. Global mode makes any synchronising or
      // allocating call inside the layer fail the capture.
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      std::string captureError;
      CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
      try {
        moertRun(layer, in.p, out2.p, T, stream);
      } catch (const std::exception &e) {
        captureError = e.what();
      }
      cudaError_t endErr = cudaStreamEndCapture(stream, &graph);
      if (captureError.empty() && endErr != cudaSuccess)
        captureError = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(endErr);
      if (captureError.empty() && cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess)
        captureError = "cudaGraphInstantiate failed";
      if (!captureError.empty()) {
        (void)cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        rep.error("moert-graph", T, "capture failed: " + captureError);
        rc = 1;
        continue;
      }
      CK(cudaMemsetAsync(out2.p, 0xff, T * H * 2, stream));
      CK(cudaGraphLaunch(exec, stream));
      CK(cudaStreamSynchronize(stream));
      CK(cudaMemcpy(graphOut.data(), out2.p, T * H * 2, cudaMemcpyDeviceToHost));
      int64_t differ = 0;
      for (int64_t i = 0; i < T * H; ++i) differ += graphOut[i] != eager[i];
      rep.record("moert-graph", p,
                 timeIt(stream, flusher, o.warmup, o.iters,
                        [&] { CK(cudaGraphLaunch(exec, stream)); }),
                 differ ? std::to_string(differ) + " outputs differ from the eager run"
                        : "replay output identical to the eager run");
      CK(cudaGraphExecDestroy(exec));
      CK(cudaGraphDestroy(graph));
    } catch (const std::exception &e) {
      rep.error("moert", T, e.what());
      rc = 1;
      if (cudaDeviceSynchronize() != cudaSuccess) break;
    }
  }
  moertFree(layer);
  CK(cudaStreamDestroy(stream));
  return rc;
}

} // namespace

int main(int argc, char **argv) {
  try {
    Options o = parseArgs(argc, argv);
    return o.mode == "cublas" ? runCublas(o) : runMoert(o);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "moe_gpu_bench: %s\n", e.what());
    return 1;
  }
}
