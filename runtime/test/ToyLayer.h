//===- ToyLayer.h - The manifest, weights and reference of ToyKernels.c ---===//
//
// A complete little layer for end-to-end tests: the manifest JSON (the
// caller names the host library and targets), a safetensors file of its
// weights for a decoder layer, and the output computed here, independently
// of the runtime, in the same float operation order as the kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_TEST_TOYLAYER_H
#define MOERT_TEST_TOYLAYER_H

#include "TestUtil.h"
#include "moert/moert.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <memory>

#include <string>
#include <vector>

namespace moert_test {

constexpr int kToyH = 8;
constexpr int kToyMaxTokens = 64;

inline nlohmann::json toyManifest() {
  using nlohmann::json;
  auto buffer = [](const char *name) {
    return json{{"name", name}, {"kind", "buffer"}};
  };
  json tokens = {{"name", "T"}, {"kind", "tokens"}};
  json layer = {
      {"function", "toy_layer"},
      {"decoder_layers", {0, 3}},
      {"dtype", "f32"},
      {"hidden_size", kToyH},
      {"max_tokens", kToyMaxTokens},
      {"targets", json::array()},
      {"host_library", "toy.host.so"},
      {"buffers",
       {{{"name", "x"},
         {"kind", "input"},
         {"dtype", "f32"},
         {"shape", {"T", kToyH}}},
        {{"name", "y"},
         {"kind", "output"},
         {"dtype", "f32"},
         {"shape", {"T", kToyH}}},
        {{"name", "scale"},
         {"kind", "weight"},
         {"dtype", "f32"},
         {"shape", {kToyH}}},
        {{"name", "proj"},
         {"kind", "weight"},
         {"dtype", "f32"},
         {"shape", {kToyH, kToyH}}},
        {{"name", "tmp"},
         {"kind", "workspace"},
         {"dtype", "f32"},
         {"shape", {"T", kToyH}}},
        {{"name", "rowsum"},
         {"kind", "workspace"},
         {"dtype", "f32"},
         {"shape", {"T"}},
         {"zero_init", true}},
        {{"name", "counter"},
         {"kind", "workspace"},
         {"dtype", "i32"},
         {"shape", {1}},
         {"zero_init", true}}}},
      {"weight_packing",
       {{{"buffer", "scale"},
         {"tensor", "model.layers.{L}.scale"},
         {"src_offset", 0},
         {"rows", 1},
         {"cols", kToyH},
         {"src_row_stride", kToyH},
         {"src_col_stride", 1},
         {"dst_offset", 0},
         {"dst_row_stride", kToyH},
         {"dst_col_stride", 1}},
        // proj[h][j] = W[j][h]: the transpose of the [out, in] tensor.
        {{"buffer", "proj"},
         {"tensor", "model.layers.{L}.proj.weight"},
         {"src_offset", 0},
         {"rows", kToyH},
         {"cols", kToyH},
         {"src_row_stride", 1},
         {"src_col_stride", kToyH},
         {"dst_offset", 0},
         {"dst_row_stride", kToyH},
         {"dst_col_stride", 1}}}},
      {"kernels",
       {{{"symbol", "toy_count"},
         {"params", {buffer("counter")}},
         {"block", {1, 1, 1}},
         {"grid", {1, 1, 1}},
         {"dynamic_shared_memory", 0}},
        {{"symbol", "toy_scale"},
         {"params",
          {buffer("x"), buffer("scale"), buffer("tmp"), buffer("rowsum"),
           tokens}},
         {"block", {128, 1, 1}},
         {"grid", {"ceildiv(T,16)", 1, 1}},
         {"dynamic_shared_memory", 0}},
        {{"symbol", "toy_accumulate"},
         {"params",
          {buffer("tmp"), buffer("proj"), buffer("rowsum"), buffer("counter"),
           buffer("y"), tokens}},
         {"block", {64, 2, 1}},
         {"grid", {"ceildiv(T,4)", "min(T,2)", 1}},
         {"dynamic_shared_memory", 1024}}}},
      {"launches", {"toy_count", "toy_scale", "toy_count", "toy_accumulate"}}};
  return json{{"format", "moe-kernels"},
              {"version", 1},
              {"model", "toy"},
              {"layers", {layer}}};
}

/// The toy's weights for one decoder layer: scale (F32 [H]) and the
/// projection W (BF16 [H, H], [out, in] like a Hugging Face linear).
struct ToyWeights {
  std::vector<float> scale;
  std::vector<float> w; ///< Row-major [out j][in h], all exact in bf16.

  explicit ToyWeights(int seed) {
    for (int h = 0; h < kToyH; ++h)
      scale.push_back(0.5f * float((h + seed) % 5) - 1.0f);
    for (int j = 0; j < kToyH; ++j)
      for (int h = 0; h < kToyH; ++h)
        w.push_back(float((j * 3 + h * 5 + seed) % 7) - 3.0f);
  }

  void addTo(SafeTensorsWriter &writer, int layer, bool withScale = true,
             bool withProj = true) const {
    std::string prefix = "model.layers." + std::to_string(layer) + ".";
    if (withScale)
      writer.addF32(prefix + "scale", {kToyH}, scale);
    if (withProj) {
      std::vector<uint16_t> bits;
      for (float v : w)
        bits.push_back(exactBf16(v));
      writer.add16(prefix + "proj.weight", "BF16", {kToyH, kToyH}, bits);
    }
  }

  /// y for input x of `tokens` rows, as the kernels compute it with the
  /// workspaces zeroed (so the counter reads 2).
  std::vector<float> reference(const std::vector<float> &x,
                               int64_t tokens) const {
    std::vector<float> y(size_t(tokens) * kToyH);
    for (int64_t t = 0; t < tokens; ++t) {
      float tmp[kToyH], rowsum = 0;
      for (int h = 0; h < kToyH; ++h) {
        tmp[h] = x[t * kToyH + h] * scale[h];
        rowsum += tmp[h];
      }
      for (int j = 0; j < kToyH; ++j) {
        float acc = rowsum + 2.0f;
        for (int h = 0; h < kToyH; ++h)
          acc += tmp[h] * w[j * kToyH + h];
        y[t * kToyH + j] = acc;
      }
    }
    return y;
  }
};

/// Input rows with small dyadic values, so all arithmetic is exact.
inline std::vector<float> toyInput(int64_t tokens, int seed) {
  std::vector<float> x;
  for (int64_t i = 0; i < tokens * kToyH; ++i)
    x.push_back(0.25f * float((i * 7 + seed) % 13) - 1.5f);
  return x;
}

using LayerPtr = std::unique_ptr<moert_layer, void (*)(moert_layer *)>;

inline LayerPtr noLayer() { return LayerPtr(nullptr, moert_layer_destroy); }

/// Runs `layer` on toyInput(tokens, seed) and expects exactly the
/// reference output of `weights`; rows past `tokens` must stay untouched.
inline void expectToyRun(moert_layer *layer, const ToyWeights &weights,
                         int64_t tokens, int seed) {
  std::vector<float> x = toyInput(tokens, seed);
  std::vector<float> y(size_t(tokens + 1) * kToyH, NAN);
  ASSERT_EQ(moert_layer_run(layer, x.data(), y.data(), tokens, nullptr),
            MOERT_SUCCESS)
      << moert_last_error();
  std::vector<float> expected = weights.reference(x, tokens);
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_EQ(y[i], expected[i]) << "T=" << tokens << " element " << i;
  for (size_t i = expected.size(); i < y.size(); ++i)
    ASSERT_TRUE(std::isnan(y[i])) << "wrote past row T-1 at " << i;
}

} // namespace moert_test

#endif // MOERT_TEST_TOYLAYER_H
