//===- PerExpertLoop.cpp - the straightforward MoE loop -------------------===//

#include "PerExpertLoop.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace moe;
using namespace moe::bench;

bool moe::bench::perExpertLoopSupports(const ref::LayerConfig &cfg) {
  return (cfg.scoring == ref::Scoring::Softmax ||
          cfg.scoring == ref::Scoring::Sigmoid) &&
         cfg.nGroup == 1 && !cfg.correctionBias && !cfg.routerBias &&
         !cfg.weightOnInput && !cfg.expertBias &&
         cfg.normalization != ref::Normalization::PNorm &&
         cfg.activation == ref::Activation::SiluGlu && !cfg.sharedSigmoidGate;
}

namespace {
/// out[m, n] = sum_k a[m, k] * w[n, k] over rows of `a`.
void linear(const float *a, int64_t m, int64_t k, const float *w, int64_t n,
            float *out) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a[i * k + p] * w[j * k + p];
      out[i * n + j] = sum;
    }
}

/// down(silu(gate x) * up x) for `rows` rows of x (gateUp [2I, H]).
std::vector<float> ffn(const float *x, int64_t rows, int64_t hidden,
                       int64_t inter, const float *gateUp, const float *down) {
  std::vector<float> h(rows * 2 * inter), act(rows * inter), y(rows * hidden);
  linear(x, rows, hidden, gateUp, 2 * inter, h.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < inter; ++i) {
      float g = h[r * 2 * inter + i], u = h[r * 2 * inter + inter + i];
      act[r * inter + i] = g / (1.0f + std::exp(-g)) * u;
    }
  linear(act.data(), rows, inter, down, hidden, y.data());
  return y;
}
} // namespace

std::vector<float>
moe::bench::perExpertLoop(const ref::LayerConfig &cfg,
                          const std::vector<HostTensor> &kernelWeights,
                          const HostTensor &x) {
  int64_t tokens = x.shape[0], hidden = cfg.hidden, experts = cfg.numExperts;
  int64_t topK = cfg.topK, inter = cfg.intermediate;
  const HostTensor &router = kernelWeights[0];
  const HostTensor &gateUp = kernelWeights[1];
  const HostTensor &down = kernelWeights[2];

  // Routing: logits, scores, top-k, renormalization, scaling.
  std::vector<float> logits(tokens * experts);
  linear(x.data.data(), tokens, hidden, router.data.data(), experts,
         logits.data());
  std::vector<int64_t> ids(tokens * topK);
  std::vector<float> weights(tokens * topK);
  std::vector<float> scores(experts);
  std::vector<int64_t> order(experts);
  for (int64_t t = 0; t < tokens; ++t) {
    const float *l = &logits[t * experts];
    if (cfg.scoring == ref::Scoring::Softmax) {
      float max = *std::max_element(l, l + experts), sum = 0;
      for (int64_t e = 0; e < experts; ++e)
        sum += scores[e] = std::exp(l[e] - max);
      for (float &s : scores)
        s /= sum;
    } else {
      for (int64_t e = 0; e < experts; ++e)
        scores[e] = 1.0f / (1.0f + std::exp(-l[e]));
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return scores[a] > scores[b];
    });
    float total = 0;
    for (int64_t k = 0; k < topK; ++k)
      total += weights[t * topK + k] = scores[order[k]];
    for (int64_t k = 0; k < topK; ++k) {
      ids[t * topK + k] = order[k];
      if (cfg.normalization == ref::Normalization::Sum)
        weights[t * topK + k] /= total + static_cast<float>(cfg.normEpsilon);
      weights[t * topK + k] *= static_cast<float>(cfg.scalingFactor);
    }
  }

  // For each expert: gather its tokens, run the FFN, scatter-add.
  std::vector<float> y(tokens * hidden, 0.0f);
  std::vector<float> gathered;
  std::vector<std::pair<int64_t, float>> routed;
  for (int64_t e = 0; e < experts; ++e) {
    routed.clear();
    for (int64_t s = 0; s < tokens * topK; ++s)
      if (ids[s] == e)
        routed.push_back({s / topK, weights[s]});
    if (routed.empty())
      continue;
    gathered.resize(routed.size() * hidden);
    for (size_t r = 0; r < routed.size(); ++r)
      std::copy_n(&x.data[routed[r].first * hidden], hidden,
                  &gathered[r * hidden]);
    std::vector<float> out = ffn(gathered.data(), routed.size(), hidden, inter,
                                 &gateUp.data[e * 2 * inter * hidden],
                                 &down.data[e * hidden * inter]);
    for (size_t r = 0; r < routed.size(); ++r)
      for (int64_t h = 0; h < hidden; ++h)
        y[routed[r].first * hidden + h] +=
            routed[r].second * out[r * hidden + h];
  }
  if (cfg.sharedIntermediate > 0) {
    std::vector<float> shared =
        ffn(x.data.data(), tokens, hidden, cfg.sharedIntermediate,
            kernelWeights[3].data.data(), kernelWeights[4].data.data());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] += shared[i];
  }
  return y;
}
