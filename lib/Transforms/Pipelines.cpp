//===- Pipelines.cpp - named moe pass pipelines ---------------------------===//

#include "moe/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::moe::registerMoePassesAndPipelines() {
  registerMoePasses();
  PassPipelineRegistration<>(
      "moe-prepare",
      "Decompose composite moe.layer ops and canonicalize: the entry of every "
      "later moe pipeline",
      [](OpPassManager &pm) {
        pm.addPass(createMoeDecomposeLayer());
        pm.addPass(createCanonicalizerPass());
        pm.addPass(createCSEPass());
      });
}
