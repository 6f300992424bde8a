//===- moe-bench-cpu.cpp - tokens/s of the compiled layer on the CPU ------===//
//
// moe-bench-cpu MODEL.json... [--tokens 1,16,128] [--min-time 0.5]
//               [--torch FILE] [--copy-mib 512]
//
// For each model's first MoE layer, on seeded random weights: the layer in
// the kernel form chosen for this CPU (moe-select-tiles target=cpu, what
// `moe-run --cpu-form` runs), the GPU kernels' form compiled for the CPU
// (sm_90's tiles, plain expert GEMMs: the CPU form's baseline) and the
// straightforward per-expert loop, and the emitted CPU library
// (moe-translate --emit-kernels' "cpu" entry, run by moert: what a runtime
// and Python's device="cpu" get), each timed in the same process, with
// PyTorch's tokens/s read from FILE (bench/cpu/torch_baseline.py's lines)
// and, at one token, the active weights' bytes per second against a
// STREAM-style copy measured first. Speed is reported, never asserted.
//
//===----------------------------------------------------------------------===//

#include "EmittedCpuLayer.h"
#include "PerExpertLoop.h"

#include "moe/Import/Import.h"
#include "moe/Import/LayerSelection.h"
#include "moe/Reference/Reference.h"
#include "moe/Runner/CompiledLayer.h"
#include "moe/SafeTensors/SafeTensors.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

using namespace mlir;
using namespace mlir::moe;
namespace st = ::moe::safetensors;
using ::moe::HostTensor;

namespace {
llvm::cl::list<std::string> models(llvm::cl::Positional, llvm::cl::OneOrMore,
                                   llvm::cl::desc("<model.json>..."));
llvm::cl::list<int64_t> tokenCounts("tokens", llvm::cl::CommaSeparated,
                                    llvm::cl::desc("token counts"));
llvm::cl::opt<double> minTime("min-time", llvm::cl::init(0.5),
                              llvm::cl::desc("seconds to time each case"));
llvm::cl::opt<std::string>
    torchFile("torch", llvm::cl::value_desc("FILE"),
              llvm::cl::desc("PyTorch's tokens/s: lines 'model<TAB>tokens<TAB>"
                             "tok/s' (bench/cpu/torch_baseline.py)"));
llvm::cl::opt<int64_t> cpuThreads(
    "cpu-threads", llvm::cl::init(1),
    llvm::cl::desc("host threads of the compiled CPU form (OpenMP) and of "
                   "the copy probe; the GPU form and the loop stay on one"));
llvm::cl::opt<std::string> tuningFile(
    "tuning-file", llvm::cl::value_desc("FILE.json"),
    llvm::cl::desc("moe-select-tiles overrides for the compiled CPU form "
                   "(docs/tile-selection.md), to try other tiles"));
llvm::cl::opt<bool> compiledOnly(
    "compiled-only",
    llvm::cl::desc("time the compiled CPU form alone, not the GPU form on the "
                   "CPU nor the per-expert loop (for a profile under perf)"));
llvm::cl::opt<int64_t> copyMiB(
    "copy-mib", llvm::cl::init(512),
    llvm::cl::desc("MiB copied by the bandwidth probe (well past the caches)"));

/// Median seconds per call of `fn`, repeated for about minTime seconds.
template <typename Fn> double timeIt(Fn fn) {
  using Clock = std::chrono::steady_clock;
  fn(); // warm up
  std::vector<double> samples;
  auto start = Clock::now();
  do {
    auto t0 = Clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  } while (std::chrono::duration<double>(Clock::now() - start).count() <
               minTime &&
           samples.size() < 1000);
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2,
                   samples.end());
  return samples[samples.size() / 2];
}

/// STREAM's copy on as many threads as the compiled layer, each copying
/// its share: bytes read plus bytes written per second, the best of five
/// copies of `copyMiB` MiB.
double copyBandwidth(int64_t threads) {
  size_t bytes = static_cast<size_t>(copyMiB) << 20;
  std::vector<char> from(bytes, 1), to(bytes, 0);
  size_t share = bytes / threads;
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> copies;
    for (int64_t t = 0; t < threads; ++t)
      copies.emplace_back([&, t] {
        std::memcpy(to.data() + t * share, from.data() + t * share, share);
      });
    for (std::thread &copy : copies)
      copy.join();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    best = std::max(best, 2.0 * share * threads / seconds);
  }
  return best;
}

/// The weight bytes one token reads: the router, its K experts and the
/// shared expert, in the storage type (plain weights).
double activeWeightBytes(const ::moe::ref::LayerConfig &cfg, st::DType dtype) {
  double element = st::elementSize(dtype);
  double matrices = cfg.activation == ::moe::ref::Activation::Relu ? 2.0 : 3.0;
  double experts = cfg.topK * matrices * cfg.hidden * cfg.intermediate +
                   matrices * cfg.hidden * cfg.sharedIntermediate;
  return element * (cfg.numExperts * cfg.hidden + experts);
}

/// PyTorch's tokens/s per (model, tokens) from `path`.
std::map<std::pair<std::string, int64_t>, double>
readTorchRates(llvm::StringRef path) {
  std::map<std::pair<std::string, int64_t>, double> rates;
  auto file = llvm::MemoryBuffer::getFile(path);
  if (!file) {
    llvm::errs() << "moe-bench-cpu: cannot read " << path << "\n";
    return rates;
  }
  llvm::SmallVector<llvm::StringRef> lines;
  (*file)->getBuffer().split(lines, '\n', -1, false);
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> fields;
    line.split(fields, '\t');
    int64_t tokens;
    double rate;
    if (fields.size() == 3 && !fields[1].getAsInteger(10, tokens) &&
        !fields[2].getAsDouble(rate))
      rates[{fields[0].str(), tokens}] = rate;
  }
  return rates;
}

std::string cell(double value, const char *format) {
  return std::isnan(value) ? "n/a" : llvm::formatv(format, value).str();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "moe-bench-cpu\n");
  std::vector<int64_t> counts(tokenCounts.begin(), tokenCounts.end());
  if (counts.empty())
    counts = {1, 16, 128};
  auto torchRates = torchFile.empty()
                        ? std::map<std::pair<std::string, int64_t>, double>()
                        : readTorchRates(torchFile);
  if (cpuThreads < 1 || cpuThreads > 256) {
    llvm::errs() << "moe-bench-cpu: --cpu-threads takes 1..256\n";
    return 1;
  }
  double bandwidth = copyBandwidth(cpuThreads);
  llvm::outs() << llvm::formatv("# copy bandwidth (STREAM copy, {0} "
                                "thread(s), {1} MiB): {2:F1} GB/s\n",
                                cpuThreads.getValue(), copyMiB.getValue(),
                                bandwidth / 1e9);

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::outs() << "| model | dtype | tokens | compiled tok/s | PyTorch bf16 "
                  "tok/s | compiled / PyTorch | emitted CPU library tok/s | "
                  "emitted / PyTorch | GPU form on the CPU tok/s | "
                  "compiled / GPU form | per-expert loop tok/s | decode "
                  "weights GB/s | % of copy bandwidth | max |compiled - loop| "
                  "/ max|loop| |\n";
  llvm::outs() << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
                  "\n";
  for (const std::string &path : models) {
    std::string error;
    auto file = openInputFile(path, &error);
    if (!file) {
      llvm::errs() << error << "\n";
      return 1;
    }
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
    FailureOr<ModelDesc> model = readModelJson(sourceMgr, &context);
    if (failed(model))
      return 1;
    const MoeLayerDesc &group = model->moeLayers.front();
    int64_t layerIndex = group.layers.front();
    ::moe::ref::LayerConfig cfg = makeLayerConfig(*model, group, layerIndex);
    st::DType storage = model->dtype;

    ::moe::TensorMap hf = ::moe::weights::randomHfWeights(cfg, 1);
    for (auto &[name, tensor] : hf)
      for (float &v : tensor.data)
        v = st::roundTo(hfStorageType(name, model->dtype), v);
    auto packed = ::moe::weights::packForKernels(cfg, hf);
    if (!packed) {
      llvm::errs() << llvm::toString(packed.takeError()) << "\n";
      return 1;
    }
    // The CPU form (moe-select-tiles for this CPU), and the GPU kernels'
    // form with sm_90's tiles but plain expert GEMMs (the tensor-core
    // form's padded tiles are slower still on the CPU).
    CpuCompileOptions cpuForm;
    cpuForm.selectTilesFor = "cpu";
    cpuForm.threads = cpuThreads;
    cpuForm.tuningFile = tuningFile;
    CpuCompileOptions gpuForm;
    gpuForm.tensorCores = false;
    auto layer = CompiledLayer::compile(&context, *model, group, cpuForm);
    auto gpuLayer = CompiledLayer::compile(&context, *model, group, gpuForm);
    for (auto *l : {&layer, &gpuLayer}) {
      if (!*l) {
        llvm::errs() << llvm::toString(l->takeError()) << "\n";
        return 1;
      }
      if (llvm::Error e = (**l)->setWeights(*packed)) {
        llvm::errs() << llvm::toString(std::move(e)) << "\n";
        return 1;
      }
    }
    bool loopSupported = ::moe::bench::perExpertLoopSupports(cfg);
    std::unique_ptr<::moe::bench::EmittedCpuLayer> emitted;
    if (!compiledOnly) {
      auto created = ::moe::bench::EmittedCpuLayer::create(
          &context, *model, cfg, layerIndex, hf, cpuThreads);
      if (!created) {
        llvm::errs() << llvm::toString(created.takeError()) << "\n";
        return 1;
      }
      emitted = std::move(*created);
      llvm::outs() << "# " << model->name << ": the emitted library runs "
                   << emitted->target() << "\n";
    }

    for (int64_t tokens : counts) {
      HostTensor x = ::moe::weights::randomInput(cfg, tokens, 2);
      for (float &v : x.data)
        v = st::roundTo(storage, v);
      // The layer on model tensors, as PyTorch's is timed: the input in
      // the storage type, the output into the same buffer every call.
      std::vector<uint8_t> input =
          st::makeTensor("x", storage, x.shape, x.data).data;
      std::vector<uint8_t> output;
      double compiled = timeIt([&] {
        if (llvm::Error e = (*layer)->runEncoded(input, tokens, output))
          llvm::report_fatal_error(std::move(e));
      });
      HostTensor compiledOut;
      compiledOut.shape = x.shape;
      compiledOut.data =
          st::TensorView{"output", storage, x.shape, output}.toFloats();
      // The emitted library: the same kernels, so the same bits.
      double emittedTime = NAN;
      if (emitted) {
        std::vector<uint8_t> emittedOutput;
        emittedTime = timeIt([&] {
          if (llvm::Error e = emitted->run(input, tokens, emittedOutput))
            llvm::report_fatal_error(std::move(e));
        });
        if (emittedOutput != output && emitted->target() != "host")
          llvm::report_fatal_error("the emitted CPU library's output differs "
                                   "from the compiled layer's");
      }
      double gpuFormTime = NAN;
      if (!compiledOnly)
        gpuFormTime = timeIt([&] {
          auto out = (*gpuLayer)->run(x);
          if (!out)
            llvm::report_fatal_error(out.takeError());
        });
      double loop = NAN, deviation = NAN;
      if (loopSupported && !compiledOnly) {
        std::vector<float> loopOut;
        loop = timeIt(
            [&] { loopOut = ::moe::bench::perExpertLoop(cfg, *packed, x); });
        double maxDiff = 0, maxLoop = 0;
        for (size_t i = 0; i < loopOut.size(); ++i) {
          maxDiff = std::max<double>(
              maxDiff, std::fabs(compiledOut.data[i] - loopOut[i]));
          maxLoop = std::max<double>(maxLoop, std::fabs(loopOut[i]));
        }
        deviation = maxDiff / std::max(maxLoop, 1e-30);
      }
      auto it = torchRates.find({model->name, tokens});
      double torch = it == torchRates.end() ? NAN : it->second;
      double rate = tokens / compiled;
      double decode =
          tokens == 1 ? activeWeightBytes(cfg, storage) / compiled : NAN;
      llvm::outs() << "| " << model->name << " | "
                   << stringifyDType(model->dtype) << " | " << tokens << " | "
                   << cell(rate, "{0:F0}") << " | " << cell(torch, "{0:F0}")
                   << " | " << cell(rate / torch, "{0:F2}x") << " | "
                   << cell(tokens / emittedTime, "{0:F0}") << " | "
                   << cell(tokens / emittedTime / torch, "{0:F2}x") << " | "
                   << cell(tokens / gpuFormTime, "{0:F0}") << " | "
                   << cell(gpuFormTime / compiled, "{0:F2}x") << " | "
                   << cell(tokens / loop, "{0:F0}") << " | "
                   << cell(decode / 1e9, "{0:F1}") << " | "
                   << cell(100 * decode / bandwidth, "{0:F0}%") << " | "
                   << cell(deviation, "{0:E1}") << " |\n";
      llvm::outs().flush();
    }
  }
  return 0;
}
