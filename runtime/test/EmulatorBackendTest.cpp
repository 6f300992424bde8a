//===- EmulatorBackendTest.cpp - The C API on the cuda-emu backend --------===//
//
// The toy layer of ToyLayer.h with its kernels as GPU threads
// (EmuToyKernels.c): loaded with moert_layer_load_emulated, packed, run for
// several token counts in every block order and compared with the
// reference; the emulator's counters; refusals.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "ToyLayer.h"
#include "moert/moert.h"

#include <gtest/gtest.h>

using namespace moert_test;
using nlohmann::json;

namespace {

class EmulatedLayer : public ::testing::Test {
protected:
  TempDir dir;
  json manifest = toyManifest();

  void SetUp() override {
    ASSERT_TRUE(copyFile(MOERT_TOY_LIBRARY, dir.file("toy.host.so")));
    ASSERT_TRUE(copyFile(MOERT_EMU_TOY_LIBRARY, dir.file("toy.sm_90.emu.so")));
    ASSERT_TRUE(writeFile(dir.file("toy.sm_90.cubin"), "not a cubin"));
    manifest["layers"][0]["targets"] = {{{"chip", "sm_90"},
                                         {"cubin", "toy.sm_90.cubin"},
                                         {"emulator", "toy.sm_90.emu.so"}}};
  }

  std::string manifestPath() {
    std::string path = dir.file("manifest.json");
    EXPECT_TRUE(writeFile(path, manifest.dump(2)));
    return path;
  }

  LayerPtr load(const moert_emu_options *options, moert_status &status) {
    moert_layer *layer = nullptr;
    status = moert_layer_load_emulated(manifestPath().c_str(), nullptr, options,
                                       &layer);
    return LayerPtr(layer, moert_layer_destroy);
  }

  void loadWeights(moert_layer *layer, const ToyWeights &weights) {
    SafeTensorsWriter writer;
    weights.addTo(writer, 3);
    std::string path = dir.file("w.safetensors");
    ASSERT_TRUE(writer.write(path));
    ASSERT_EQ(moert_layer_load_weights(layer, path.c_str(), 3), MOERT_SUCCESS)
        << moert_last_error();
  }
};

TEST_F(EmulatedLayer, RunsLikeTheReferenceInEveryBlockOrder) {
  ToyWeights weights(2);
  for (uint64_t seed : {0, 5})
    for (int concurrent : {1, 2}) {
      moert_emu_options options = {};
      options.shuffle_seed = seed;
      options.concurrent_blocks = concurrent;
      moert_status status;
      LayerPtr layer = load(&options, status);
      ASSERT_EQ(status, MOERT_SUCCESS) << moert_last_error();
      EXPECT_STREQ(moert_layer_target(layer.get()), "sm_90");
      EXPECT_TRUE(
          contains(moert_layer_target_file(layer.get()), "toy.sm_90.emu.so"));
      loadWeights(layer.get(), weights);
      for (int64_t tokens : {1, 5, 17, 64})
        expectToyRun(layer.get(), weights, tokens, int(tokens));
      moert_emu_stats stats;
      ASSERT_EQ(moert_layer_emu_stats(layer.get(), &stats), MOERT_SUCCESS);
      EXPECT_EQ(stats.launches, 16u); // Four launches per run.
      // toy_scale: ceildiv(T,16) blocks of 128 threads, one barrier each.
      EXPECT_EQ(stats.barriers, uint64_t(128 * (1 + 1 + 2 + 4)));
      EXPECT_GT(stats.checked_accesses, 0u);
      // Whole sectors of the weights, each counted once per launch at most.
      EXPECT_GT(stats.weight_sector_bytes, 0u);
      EXPECT_EQ(stats.weight_sector_bytes % 32, 0u);
      uint64_t weightBytes = 4 * (kToyH + kToyH * kToyH);
      EXPECT_LE(stats.weight_sector_bytes, stats.launches * (weightBytes + 64));
    }
}

TEST_F(EmulatedLayer, ReportsEachLaunchsBlocks) {
  struct Report {
    std::string kernel;
    uint64_t launch, done, blocks;
  };
  std::vector<Report> reports;
  moert_emu_options options = {};
  options.progress_user = &reports;
  options.progress = [](void *user, const char *kernel, uint64_t launch,
                        uint64_t done, uint64_t blocks) {
    static_cast<std::vector<Report> *>(user)->push_back(
        {kernel, launch, done, blocks});
  };
  moert_status status;
  LayerPtr layer = load(&options, status);
  ASSERT_EQ(status, MOERT_SUCCESS) << moert_last_error();
  ToyWeights weights(2);
  loadWeights(layer.get(), weights);
  expectToyRun(layer.get(), weights, 40, 1);
  // A toy run is four launches, each reported when it starts and when it
  // ends (too short for a report in between); toy_scale has ceildiv(40, 16)
  // blocks.
  ASSERT_EQ(reports.size(), 8u);
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].launch, i / 2);
    EXPECT_EQ(reports[i].done, i % 2 ? reports[i].blocks : 0u);
    EXPECT_EQ(reports[i].kernel,
              moert_layer_launch_symbol(layer.get(), int64_t(i / 2)));
  }
  for (const Report &r : reports) {
    if (r.kernel == "toy_scale") {
      EXPECT_EQ(r.blocks, 3u);
    }
  }
}

TEST_F(EmulatedLayer, PlainLoadTakesTheDefaults) {
  moert_layer *raw = nullptr;
  ASSERT_EQ(moert_layer_load(manifestPath().c_str(), nullptr,
                             MOERT_BACKEND_CUDA_EMU, &raw),
            MOERT_SUCCESS)
      << moert_last_error();
  LayerPtr layer(raw, moert_layer_destroy);
  ToyWeights weights(4);
  loadWeights(layer.get(), weights);
  expectToyRun(layer.get(), weights, 9, 1);
}

TEST_F(EmulatedLayer, Refusals) {
  moert_status status;
  moert_emu_options options = {};
  options.concurrent_blocks = 3;
  EXPECT_FALSE(load(&options, status));
  EXPECT_EQ(status, MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(moert_last_error(), "concurrent_blocks"));

  // Column sampling leaves the output incomplete: only for a profile.
  options = {};
  options.profile_column_stride = 4;
  EXPECT_FALSE(load(&options, status));
  EXPECT_EQ(status, MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(moert_last_error(), "profile_column_stride"));

  options = {};
  options.chip = "sm_80";
  EXPECT_FALSE(load(&options, status));
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(), "has no emulator library for "
                                           "sm_80 (the manifest has sm_90)"));

  manifest["layers"][0]["targets"][0].erase("emulator");
  EXPECT_FALSE(load(nullptr, status));
  EXPECT_TRUE(contains(moert_last_error(), "emit the kernels with --emulator"));

  EXPECT_EQ(moert_layer_load_emulated(nullptr, nullptr, nullptr, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  moert_emu_stats stats;
  EXPECT_EQ(moert_layer_emu_stats(nullptr, &stats),
            MOERT_ERROR_INVALID_ARGUMENT);
}

TEST_F(EmulatedLayer, OtherBackendsCountNothing) {
  moert_layer *raw = nullptr;
  ASSERT_EQ(moert_layer_load(manifestPath().c_str(), nullptr, MOERT_BACKEND_CPU,
                             &raw),
            MOERT_SUCCESS)
      << moert_last_error();
  LayerPtr layer(raw, moert_layer_destroy);
  moert_emu_stats stats;
  stats.launches = 7;
  ASSERT_EQ(moert_layer_emu_stats(layer.get(), &stats), MOERT_SUCCESS);
  EXPECT_EQ(stats.launches, 0u);
}

} // namespace
