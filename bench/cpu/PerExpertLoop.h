//===- PerExpertLoop.h - the plain per-expert MoE loop ----------*- C++ -*-===//
//
// The per-expert loop that Hugging Face's modeling code writes: route every
// token, then for each expert gather its tokens and run plain f32 GEMM
// loops. The benchmark's baseline; it supports the routing the benchmark
// models use (softmax or sigmoid scores, plain top-k, sum renormalization,
// scaling, SiLU-GLU experts, an ungated shared expert).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_BENCH_CPU_PEREXPERTLOOP_H
#define MOE_BENCH_CPU_PEREXPERTLOOP_H

#include "moe/Reference/LayerConfig.h"
#include "moe/Weights/HfWeights.h"

#include <optional>

namespace moe::bench {

/// Whether the loop can compute a layer of this configuration.
bool perExpertLoopSupports(const ref::LayerConfig &cfg);

/// y [T, H] in f32 from x [T, H] and the kernel-layout weights.
std::vector<float> perExpertLoop(const ref::LayerConfig &cfg,
                                 const std::vector<HostTensor> &kernelWeights,
                                 const HostTensor &x);

} // namespace moe::bench

#endif // MOE_BENCH_CPU_PEREXPERTLOOP_H
