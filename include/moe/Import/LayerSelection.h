//===- LayerSelection.h - one decoder layer of an imported model -*- C++
//-*-===//
//
// Which MoE layer group computes a decoder layer, that group as the plain-C++
// configuration the reference and the weight packing use, and the storage
// type of a Hugging Face tensor. Shared by the JIT runner, the kernel emitter,
// moe-run and the benchmarks, none of which needs the others for it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_IMPORT_LAYERSELECTION_H
#define MOE_IMPORT_LAYERSELECTION_H

#include "moe/Import/ModelDesc.h"
#include "moe/Reference/LayerConfig.h"

namespace mlir::moe {

/// The plain-C++ configuration of MoE layer group `group` of `model`, for
/// decoder layer `layer`.
::moe::ref::LayerConfig makeLayerConfig(const ModelDesc &model,
                                        const MoeLayerDesc &group,
                                        int64_t layer);

/// The storage type a Hugging Face tensor of a `dtype` model has: the
/// model's dtype, except DeepSeek-V3's correction bias, kept in f32 by its
/// checkpoints.
DType hfStorageType(llvm::StringRef name, DType dtype);

/// The group of `model` that computes decoder layer `layer`, or null.
const MoeLayerDesc *findLayerGroup(const ModelDesc &model, int64_t layer);

} // namespace mlir::moe

#endif // MOE_IMPORT_LAYERSELECTION_H
