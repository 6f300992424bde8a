#include "moe/Dialect/MoeDialect.h"
#include "moe/Transforms/Passes.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  registry.insert<mlir::moe::MoeDialect>();
  mlir::registerAllPasses();
  mlir::moe::registerMoePassesAndPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "moe-opt", registry));
}
