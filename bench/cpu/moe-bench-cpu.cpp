//===- moe-bench-cpu.cpp - tokens/s of the compiled layer on the CPU ------===//
//
// moe-bench-cpu MODEL.json... [--tokens 1,16,128] [--min-time 0.5]
//
// For each model's first MoE layer, on seeded random weights: the layer
// compiled by moe-to-llvm-cpu (what moe-run runs: the fused and tiled
// kernel form), the same layer's unfused lowering, the fp64 reference and
// the straightforward per-expert loop, each timed in the same process, and
// the ratios between them. Speed is reported, never asserted.
//
//===----------------------------------------------------------------------===//

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
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <chrono>
#include <cmath>

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

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "moe-bench-cpu\n");
  std::vector<int64_t> counts(tokenCounts.begin(), tokenCounts.end());
  if (counts.empty())
    counts = {1, 16, 128};

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::outs() << "| model | dtype | tokens | compiled tok/s | unfused tok/s "
                  "| per-expert loop tok/s | fp64 reference tok/s | compiled "
                  "/ unfused | compiled / loop | compiled / reference | max "
                  "|compiled - loop| / max|loop| |\n";
  llvm::outs() << "|---|---|---|---|---|---|---|---|---|---|---|\n";
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
    // The kernel form with the pass's default tiles and without the
    // tensor-core form (the CPU's better configuration; the one
    // bench/results/ were measured with), and the unfused lowering.
    CpuCompileOptions kernelForm;
    kernelForm.tensorCores = false;
    kernelForm.selectTilesFor = "";
    CpuCompileOptions unfusedOptions;
    unfusedOptions.kernelForm = false;
    auto layer = CompiledLayer::compile(&context, *model, group, kernelForm);
    auto unfused =
        CompiledLayer::compile(&context, *model, group, unfusedOptions);
    for (auto *l : {&layer, &unfused}) {
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

    for (int64_t tokens : counts) {
      HostTensor x = ::moe::weights::randomInput(cfg, tokens, 2);
      for (float &v : x.data)
        v = st::roundTo(storage, v);
      HostTensor compiledOut;
      double compiled = timeIt([&] {
        auto out = (*layer)->run(x);
        if (!out)
          llvm::report_fatal_error(out.takeError());
        compiledOut = std::move(*out);
      });
      double unfusedTime = timeIt([&] {
        auto out = (*unfused)->run(x);
        if (!out)
          llvm::report_fatal_error(out.takeError());
      });
      double reference = timeIt([&] {
        auto out = ::moe::ref::forward(cfg, hf, x);
        if (!out)
          llvm::report_fatal_error(out.takeError());
      });
      double loop = NAN, deviation = NAN;
      if (loopSupported) {
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
      auto rate = [&](double seconds) { return tokens / seconds; };
      llvm::outs() << "| " << model->name << " | "
                   << stringifyDType(model->dtype) << " | " << tokens << " | "
                   << llvm::format("%.0f", rate(compiled)) << " | "
                   << llvm::format("%.0f", rate(unfusedTime)) << " | ";
      if (loopSupported)
        llvm::outs() << llvm::format("%.0f", rate(loop)) << " | ";
      else
        llvm::outs() << "n/a | ";
      llvm::outs() << llvm::format("%.0f", rate(reference)) << " | "
                   << llvm::format("%.2fx", unfusedTime / compiled) << " | ";
      if (loopSupported)
        llvm::outs() << llvm::format("%.2fx", loop / compiled) << " | ";
      else
        llvm::outs() << "n/a | ";
      llvm::outs() << llvm::format("%.2fx", reference / compiled) << " | ";
      if (loopSupported)
        llvm::outs() << llvm::format("%.1e", deviation) << " |\n";
      else
        llvm::outs() << "n/a |\n";
      llvm::outs().flush();
    }
  }
  return 0;
}
