//===- moe-translate.cpp - JSON model descriptions <-> moe IR -------------===//

#include "moe/Import/Import.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::moe::registerMoeTranslations();
  return mlir::failed(
             mlir::mlirTranslateMain(argc, argv,
                                     "moe-translate: JSON model "
                                     "descriptions to and from the moe "
                                     "dialect"))
             ? 1
             : 0;
}
