//===- CpuBackendTest.cpp - The whole C API on the host backend -----------===//
//
// Loads the toy layer of ToyKernels.c through moert.h, packs its weights
// from safetensors shards, runs it for several token counts and compares
// with the reference computed in ToyLayer.h.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "ToyLayer.h"
#include "moert/moert.h"

#include <dlfcn.h>
#include <functional>
#include <gtest/gtest.h>
#include <thread>

using namespace moert_test;
using nlohmann::json;

namespace {

class CpuLayer : public ::testing::Test {
protected:
  TempDir dir;
  json manifest = toyManifest();

  void SetUp() override {
    ASSERT_TRUE(copyFile(MOERT_TOY_LIBRARY, dir.file("toy.host.so")));
  }

  json &layer0() { return manifest["layers"][0]; }

  std::string manifestPath() {
    std::string path = dir.file("manifest.json");
    EXPECT_TRUE(writeFile(path, manifest.dump(2)));
    return path;
  }

  /// Loads the current manifest; the status is left in `status`.
  LayerPtr load(moert_status &status, const char *function = nullptr) {
    moert_layer *layer = nullptr;
    status = moert_layer_load(manifestPath().c_str(), function,
                              MOERT_BACKEND_CPU, &layer);
    return LayerPtr(layer, moert_layer_destroy);
  }

  LayerPtr load() {
    moert_status status;
    LayerPtr layer = load(status);
    EXPECT_EQ(status, MOERT_SUCCESS) << moert_last_error();
    return layer;
  }

  std::string weightsFile(const std::string &name, const ToyWeights &w,
                          int layer, bool scale = true, bool proj = true) {
    SafeTensorsWriter writer;
    w.addTo(writer, layer, scale, proj);
    std::string path = dir.file(name);
    EXPECT_TRUE(writer.write(path));
    return path;
  }

  moert_status loadWeights(moert_layer *layer, const std::string &path,
                           int64_t decoderLayer) {
    return moert_layer_load_weights(layer, path.c_str(), decoderLayer);
  }
};

TEST_F(CpuLayer, IntrospectionMatchesTheManifest) {
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  moert_layer *l = layer.get();
  EXPECT_STREQ(moert_layer_function(l), "toy_layer");
  EXPECT_STREQ(moert_layer_dtype(l), "f32");
  EXPECT_EQ(moert_layer_hidden_size(l), kToyH);
  EXPECT_EQ(moert_layer_max_tokens(l), kToyMaxTokens);
  EXPECT_EQ(moert_layer_reserved_tokens(l), 0);
  EXPECT_EQ(moert_layer_workspace_bytes(l), 0);
  EXPECT_EQ(moert_layer_io_bytes(l, 5), 5 * kToyH * 4);
  EXPECT_EQ(moert_layer_io_bytes(l, 0), -1);
  EXPECT_EQ(moert_layer_io_bytes(l, kToyMaxTokens + 1), -1);
  EXPECT_EQ(moert_layer_unpacked_weight_elements(l), kToyH + kToyH * kToyH);
  EXPECT_STREQ(moert_layer_target(l), "host");
  EXPECT_EQ(std::string(moert_layer_target_file(l)), dir.file("toy.host.so"));
  ASSERT_EQ(moert_layer_num_decoder_layers(l), 2);
  EXPECT_EQ(moert_layer_decoder_layer(l, 1), 3);
  EXPECT_EQ(moert_layer_decoder_layer(l, 2), -1);
  ASSERT_EQ(moert_layer_num_kernels(l), 3);
  EXPECT_STREQ(moert_layer_kernel_symbol(l, 1), "toy_scale");
  EXPECT_EQ(moert_layer_kernel_symbol(l, 3), nullptr);
  ASSERT_EQ(moert_layer_num_launches(l), 4);
  EXPECT_STREQ(moert_layer_launch_symbol(l, 2), "toy_count");
  EXPECT_STREQ(moert_layer_launch_symbol(l, 3), "toy_accumulate");
  EXPECT_EQ(moert_layer_launch_symbol(l, -1), nullptr);
  ASSERT_EQ(moert_layer_num_tensors(l), 2);
  EXPECT_STREQ(moert_layer_tensor(l, 0), "model.layers.{L}.scale");
  EXPECT_STREQ(moert_layer_tensor(l, 1), "model.layers.{L}.proj.weight");
  EXPECT_EQ(moert_layer_tensor(l, 2), nullptr);
  EXPECT_EQ(moert_layer_num_tensors(nullptr), -1);
}

TEST_F(CpuLayer, RunsForManyTokenCountsFromShardedWeights) {
  ToyWeights weights(0);
  std::string shard1 = weightsFile("s1.safetensors", weights, 0, true, false);
  std::string shard2 = weightsFile("s2.safetensors", weights, 0, false, true);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);

  ASSERT_EQ(loadWeights(layer.get(), shard1, 0), MOERT_SUCCESS)
      << moert_last_error();
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 64);
  const char *missing = "weight 'proj' is not fully packed: 64 of 64 elements "
                        "never written; tensor 'model.layers.0.proj.weight' "
                        "was in no file given to moert_layer_load_weights";
  EXPECT_EQ(moert_layer_check_weights(layer.get()), MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(contains(moert_last_error(), missing));
  std::vector<float> x = toyInput(2, 0), y(2 * kToyH);
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 2, nullptr),
            MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(contains(moert_last_error(), missing));

  ASSERT_EQ(loadWeights(layer.get(), shard2, 0), MOERT_SUCCESS)
      << moert_last_error();
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 0);
  EXPECT_EQ(moert_layer_check_weights(layer.get()), MOERT_SUCCESS);

  // Workspaces grow with T; repeated runs agree (the zero_init buffers
  // rowsum and counter accumulate, so they must be zeroed every run).
  for (int64_t tokens : {1, 5, 5, 3, 40, 17, 64, 64}) {
    expectToyRun(layer.get(), weights, tokens, int(tokens));
    int64_t reserved = moert_layer_reserved_tokens(layer.get());
    EXPECT_GE(reserved, tokens);
    EXPECT_EQ(moert_layer_workspace_bytes(layer.get()),
              reserved * kToyH * 4 + reserved * 4 + 4);
  }
}

TEST_F(CpuLayer, ReserveSizesWorkspacesUpFront) {
  ToyWeights weights(1);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  ASSERT_EQ(
      loadWeights(layer.get(), weightsFile("w.safetensors", weights, 3), 3),
      MOERT_SUCCESS)
      << moert_last_error();
  ASSERT_EQ(moert_layer_reserve(layer.get(), 20), MOERT_SUCCESS);
  EXPECT_EQ(moert_layer_reserved_tokens(layer.get()), 20);
  EXPECT_EQ(moert_layer_workspace_bytes(layer.get()), 20 * 32 + 20 * 4 + 4);
  ASSERT_EQ(moert_layer_reserve(layer.get(), 10), MOERT_SUCCESS); // no shrink
  EXPECT_EQ(moert_layer_reserved_tokens(layer.get()), 20);
  for (int64_t tokens : {20, 7, 1})
    expectToyRun(layer.get(), weights, tokens, 3);
  EXPECT_EQ(moert_layer_workspace_bytes(layer.get()), 20 * 32 + 20 * 4 + 4);

  EXPECT_EQ(moert_layer_reserve(layer.get(), 65), MOERT_ERROR_TOO_MANY_TOKENS);
  EXPECT_TRUE(contains(moert_last_error(),
                       "token count 65 exceeds max_tokens 64 of toy_layer"));
  EXPECT_EQ(moert_layer_reserve(layer.get(), 0), MOERT_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(moert_layer_reserve(layer.get(), 64), MOERT_SUCCESS);
  EXPECT_EQ(moert_layer_workspace_bytes(layer.get()), 64 * 32 + 64 * 4 + 4);
  expectToyRun(layer.get(), weights, 64, 9);
}

TEST_F(CpuLayer, TokenCountsOutsideTheRangeAreRefused) {
  ToyWeights weights(0);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  ASSERT_EQ(
      loadWeights(layer.get(), weightsFile("w.safetensors", weights, 0), 0),
      MOERT_SUCCESS);
  std::vector<float> x = toyInput(65, 0), y(65 * kToyH, 5.0f);
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 65, nullptr),
            MOERT_ERROR_TOO_MANY_TOKENS);
  EXPECT_TRUE(contains(moert_last_error(), "token count 65 exceeds "
                                           "max_tokens 64"));
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 0, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(moert_last_error(), "token count 0 is below 1"));
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), -7, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(moert_layer_run(layer.get(), nullptr, y.data(), 1, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  // One float past an aligned start: 4-byte, not 16-byte, aligned.
  ASSERT_EQ(reinterpret_cast<uintptr_t>(x.data()) % 16, 0u);
  EXPECT_EQ(moert_layer_run(layer.get(), x.data() + 1, y.data(), 1, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(moert_last_error(), "input is not 16-byte aligned"));
  for (float v : y)
    ASSERT_EQ(v, 5.0f); // nothing ran
  EXPECT_EQ(moert_layer_reserved_tokens(layer.get()), 0);
  expectToyRun(layer.get(), weights, 64, 0);
}

TEST_F(CpuLayer, ZeroInitOutputIsZeroedForTRowsOnly) {
  // Only the counter kernel runs, so the output is exactly what zero_init
  // left: zeros in the first T rows, the caller's values after them.
  layer0()["buffers"][1]["zero_init"] = true;
  layer0()["launches"] = {"toy_count"};
  ToyWeights weights(0);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  ASSERT_EQ(
      loadWeights(layer.get(), weightsFile("w.safetensors", weights, 0), 0),
      MOERT_SUCCESS);
  std::vector<float> x = toyInput(6, 0), y(6 * kToyH, 7.0f);
  ASSERT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 4, nullptr),
            MOERT_SUCCESS)
      << moert_last_error();
  for (int i = 0; i < 6 * kToyH; ++i)
    EXPECT_EQ(y[i], i < 4 * kToyH ? 0.0f : 7.0f) << i;
}

TEST_F(CpuLayer, DecoderLayersSelectTensorsAndRestartPacking) {
  ToyWeights w0(0), w3(3);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  std::string file0 = weightsFile("l0.safetensors", w0, 0);
  EXPECT_EQ(loadWeights(layer.get(), file0, 5), MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(moert_last_error(), "decoder layer 5 is not one of "
                                           "toy_layer's decoder_layers (0, "
                                           "3)"));
  EXPECT_EQ(loadWeights(layer.get(), file0, -1), MOERT_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(loadWeights(layer.get(), file0, 0), MOERT_SUCCESS);
  expectToyRun(layer.get(), w0, 9, 1);

  // Layer 0's file holds no layer-3 tensors: nothing is written, but the
  // switch to layer 3 starts every weight over.
  ASSERT_EQ(loadWeights(layer.get(), file0, 3), MOERT_SUCCESS);
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 72);
  std::vector<float> x = toyInput(1, 0), y(kToyH);
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 1, nullptr),
            MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(contains(moert_last_error(),
                       "tensor 'model.layers.3.scale' was in no file"));

  std::string file3 = weightsFile("l3.safetensors", w3, 3);
  ASSERT_EQ(loadWeights(layer.get(), file3, 3), MOERT_SUCCESS);
  expectToyRun(layer.get(), w3, 9, 1);
  // Loading a complete weight again rewrites it and it stays complete.
  ASSERT_EQ(loadWeights(layer.get(), file3, 3), MOERT_SUCCESS);
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 0);
  expectToyRun(layer.get(), w3, 2, 2);
}

TEST_F(CpuLayer, BadWeightFilesChangeNothing) {
  ToyWeights weights(0);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  // proj stored as [4, 8]: the transposing step reads past its end; scale in
  // the same file is fine but is not written either.
  SafeTensorsWriter writer;
  writer.addF32("model.layers.0.scale", {kToyH}, weights.scale);
  writer.addF32("model.layers.0.proj.weight", {4, 8},
                std::vector<float>(32, 1.0f));
  std::string path = dir.file("bad.safetensors");
  ASSERT_TRUE(writer.write(path));
  EXPECT_EQ(loadWeights(layer.get(), path, 0), MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(contains(moert_last_error(),
                       "bad.safetensors (toy_layer weight_packing[1]): "
                       "tensor 'model.layers.0.proj.weight': the packing "
                       "step reads element 63 but the tensor has 32 "
                       "elements"));
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 72);

  EXPECT_EQ(loadWeights(layer.get(), dir.file("absent.safetensors"), 0),
            MOERT_ERROR_IO);
  ASSERT_TRUE(writeFile(dir.file("junk.safetensors"), "\x05\0\0\0"));
  EXPECT_EQ(loadWeights(layer.get(), dir.file("junk.safetensors"), 0),
            MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(
      contains(moert_last_error(), "too short for the 8-byte header length"));
}

TEST_F(CpuLayer, OverlappingStepsLeaveElementsUnwritten) {
  // Two half steps for proj that both write rows 0..3: the element count
  // matches, so only the coverage check finds the gap.
  json half = layer0()["weight_packing"][1];
  half["rows"] = 4;
  layer0()["weight_packing"][1] = half;
  half["src_offset"] = 4;
  layer0()["weight_packing"].push_back(half);
  ToyWeights weights(0);
  LayerPtr layer = load();
  ASSERT_TRUE(layer);
  ASSERT_EQ(
      loadWeights(layer.get(), weightsFile("w.safetensors", weights, 0), 0),
      MOERT_SUCCESS);
  EXPECT_EQ(moert_layer_unpacked_weight_elements(layer.get()), 32);
  std::vector<float> x = toyInput(1, 0), y(kToyH);
  EXPECT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 1, nullptr),
            MOERT_ERROR_WEIGHTS);
  EXPECT_TRUE(contains(moert_last_error(),
                       "weight 'proj' is not fully packed: 32 of 64 elements "
                       "never written; element 32 is written by no packing "
                       "step"));
}

TEST_F(CpuLayer, LoadErrors) {
  moert_status status;
  LayerPtr layer = load(status, "other_layer");
  EXPECT_EQ(status, MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_FALSE(layer);
  EXPECT_TRUE(contains(moert_last_error(),
                       "no layer function 'other_layer' (it has "
                       "'toy_layer')"));
  layer = load(status, "toy_layer");
  EXPECT_EQ(status, MOERT_SUCCESS);
  layer.reset();

  layer0()["kernels"][1]["symbol"] = "toy_missing";
  layer0()["launches"][1] = "toy_missing";
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(),
                       "does not export '_mlir_toy_missing' (kernel "
                       "'toy_missing')"));

  manifest = toyManifest();
  layer0()["host_library"] = "absent.host.so";
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(), "cannot load host library '" +
                                               dir.file("absent.host.so")));

  layer0().erase("host_library");
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(), "has no host_library"));

  layer0()["max_tokens"] = -1;
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_MANIFEST);
  EXPECT_TRUE(contains(moert_last_error(),
                       "manifest.json: layers[0].max_tokens: value -1"));

  moert_layer *raw = reinterpret_cast<moert_layer *>(0x1);
  EXPECT_EQ(moert_layer_load(dir.file("none.json").c_str(), nullptr,
                             MOERT_BACKEND_CPU, &raw),
            MOERT_ERROR_IO);
  EXPECT_EQ(raw, nullptr);
  manifest = toyManifest();
  EXPECT_EQ(moert_layer_load(manifestPath().c_str(), nullptr,
                             static_cast<moert_backend>(7), &raw),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(moert_last_error(), "unknown backend 7");
}

/// A "cpu" entry running the toy kernels from a copy of the toy library,
/// for instruction set `isa`, with the layer's workspaces in another order.
json toyCpuForm(const json &layer, const std::string &isa) {
  json workspaces = json::array();
  for (const json &b : layer["buffers"])
    if (b["kind"] == "workspace")
      workspaces.insert(workspaces.begin(), b);
  return {{"library", "toy.cpu.so"},      {"isa", isa},
          {"features", json::array()},    {"threads", 1},
          {"workspaces", workspaces},     {"kernels", layer["kernels"]},
          {"launches", layer["launches"]}};
}

TEST_F(CpuLayer, CpuFormRunsWhereTheHostHasItsInstructionSet) {
  ASSERT_TRUE(copyFile(MOERT_TOY_LIBRARY, dir.file("toy.cpu.so")));
  // A workspace first: the CPU form's buffers (the layer's others, then its
  // own workspaces) renumber the packing steps' buffers.
  json &buffers = layer0()["buffers"];
  json tmp = buffers[4];
  buffers.erase(4);
  buffers.insert(buffers.begin(), tmp);
  layer0()["cpu"] = toyCpuForm(layer0(), "generic");
  ToyWeights weights(2);
  std::string file = weightsFile("w.safetensors", weights, 3);
  for (moert_backend backend :
       {MOERT_BACKEND_CPU, MOERT_BACKEND_CPU_PORTABLE}) {
    moert_layer *raw = nullptr;
    ASSERT_EQ(moert_layer_load(manifestPath().c_str(), nullptr, backend, &raw),
              MOERT_SUCCESS)
        << moert_last_error();
    LayerPtr layer(raw, moert_layer_destroy);
    bool form = backend == MOERT_BACKEND_CPU;
    EXPECT_STREQ(moert_layer_target(raw), form ? "generic" : "host");
    EXPECT_EQ(std::string(moert_layer_target_file(raw)),
              dir.file(form ? "toy.cpu.so" : "toy.host.so"));
    ASSERT_EQ(loadWeights(raw, file, 3), MOERT_SUCCESS) << moert_last_error();
    for (int64_t tokens : {1, 5, 64})
      expectToyRun(raw, weights, tokens, int(tokens));
    EXPECT_EQ(moert_layer_workspace_bytes(raw), 64 * kToyH * 4 + 64 * 4 + 4);
  }

  // An instruction set or feature this runtime cannot confirm: the
  // portable library, or an error without one.
  for (const char *isa : {"x86-64-v9", "armv9"}) {
    layer0()["cpu"]["isa"] = isa;
    LayerPtr layer = load();
    ASSERT_TRUE(layer);
    EXPECT_STREQ(moert_layer_target(layer.get()), "host");
  }
  layer0()["cpu"]["isa"] = "generic";
  layer0()["cpu"]["features"] = {"avx9000"};
  {
    LayerPtr layer = load();
    ASSERT_TRUE(layer);
    EXPECT_STREQ(moert_layer_target(layer.get()), "host");
  }
  layer0().erase("host_library");
  moert_status status;
  EXPECT_FALSE(load(status));
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(),
                       "this CPU lacks generic+avx9000, the CPU form's "
                       "instruction set, and the layer has no host_library"))
      << moert_last_error();
}

TEST_F(CpuLayer, CpuFormManifestErrors) {
  struct Case {
    std::function<void(json &)> edit;
    std::string message;
  } cases[] = {
      {[](json &cpu) { cpu["workspaces"][0]["kind"] = "output"; },
       "layers[0].cpu.workspaces[0].kind: the CPU form lists only its "
       "workspaces"},
      {[](json &cpu) { cpu["workspaces"].erase(0); },
       "layers[0].cpu.kernels[0].params[0].name: unknown buffer 'counter'"},
      {[](json &cpu) { cpu["workspaces"][0]["name"] = "x"; },
       "layers[0].cpu.workspaces[0].name: duplicate buffer 'x'"},
      {[](json &cpu) { cpu["library"] = "../toy.cpu.so"; },
       "layers[0].cpu.library: '../toy.cpu.so' is not a plain file name"},
      {[](json &cpu) { cpu["threads"] = -1; },
       "layers[0].cpu.threads: value -1"},
      {[](json &cpu) { cpu["launches"] = {"toy_other"}; },
       "layers[0].cpu.launches[0]: unknown kernel 'toy_other'"},
      {[](json &cpu) { cpu.erase("isa"); },
       "layers[0].cpu: missing field 'isa'"},
  };
  for (const Case &c : cases) {
    manifest = toyManifest();
    layer0()["cpu"] = toyCpuForm(layer0(), "generic");
    c.edit(layer0()["cpu"]);
    moert_status status;
    EXPECT_FALSE(load(status));
    EXPECT_EQ(status, MOERT_ERROR_MANIFEST);
    EXPECT_TRUE(contains(moert_last_error(), c.message)) << moert_last_error();
  }
}

TEST(CApi, NullArguments) {
  moert_layer *layer = nullptr;
  EXPECT_EQ(moert_layer_load(nullptr, nullptr, MOERT_BACKEND_CPU, &layer),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(moert_last_error(), "moert_layer_load: manifest_path is NULL");
  EXPECT_EQ(moert_layer_load("x", nullptr, MOERT_BACKEND_CPU, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(moert_layer_load_weights(nullptr, "x", 0),
            MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(moert_layer_reserve(nullptr, 1), MOERT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(moert_layer_run(nullptr, nullptr, nullptr, 1, nullptr),
            MOERT_ERROR_INVALID_ARGUMENT);
  moert_layer_destroy(nullptr);
  EXPECT_EQ(moert_layer_hidden_size(nullptr), -1);
  EXPECT_EQ(moert_layer_function(nullptr), nullptr);
  EXPECT_EQ(moert_layer_kernel_symbol(nullptr, 0), nullptr);
  EXPECT_STREQ(moert_status_name(MOERT_ERROR_TOO_MANY_TOKENS),
               "MOERT_ERROR_TOO_MANY_TOKENS");
  EXPECT_STREQ(moert_status_name(static_cast<moert_status>(99)), "unknown");
}

TEST(CApi, LastErrorIsPerThread) {
  moert_layer *layer = nullptr;
  ASSERT_EQ(moert_layer_load(nullptr, nullptr, MOERT_BACKEND_CPU, &layer),
            MOERT_ERROR_INVALID_ARGUMENT);
  std::string other;
  std::thread thread([&] {
    other = moert_last_error(); // nothing failed on this thread yet
    moert_layer_reserve(nullptr, 1);
  });
  thread.join();
  EXPECT_EQ(other, "");
  EXPECT_STREQ(moert_last_error(), "moert_layer_load: manifest_path is NULL");
}

extern "C" int moertCSmokeTest(const char *manifest, char *message,
                               size_t size);

TEST_F(CpuLayer, CallableFromC99) {
  ToyWeights weights(0);
  weightsFile("w.safetensors", weights, 0);
  char message[256] = {0};
  EXPECT_EQ(moertCSmokeTest(manifestPath().c_str(), message, sizeof message), 0)
      << message;
}

TEST_F(CpuLayer, SharedLibraryExportsOnlyTheCApi) {
  void *lib = dlopen(MOERT_SHARED_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  using Load = moert_status (*)(const char *, const char *, moert_backend,
                                moert_layer **);
  using Weights = moert_status (*)(moert_layer *, const char *, int64_t);
  using Run =
      moert_status (*)(moert_layer *, const void *, void *, int64_t, void *);
  using Destroy = void (*)(moert_layer *);
  auto load = reinterpret_cast<Load>(dlsym(lib, "moert_layer_load"));
  auto weights =
      reinterpret_cast<Weights>(dlsym(lib, "moert_layer_load_weights"));
  auto run = reinterpret_cast<Run>(dlsym(lib, "moert_layer_run"));
  auto destroy = reinterpret_cast<Destroy>(dlsym(lib, "moert_layer_destroy"));
  ASSERT_TRUE(load && weights && run && destroy);
  EXPECT_EQ(dlsym(lib, "_ZN3moe7support11floatToHalfEf"), nullptr);

  ToyWeights w(2);
  moert_layer *layer = nullptr;
  ASSERT_EQ(load(manifestPath().c_str(), nullptr, MOERT_BACKEND_CPU, &layer),
            MOERT_SUCCESS);
  ASSERT_EQ(weights(layer, weightsFile("w.safetensors", w, 0).c_str(), 0),
            MOERT_SUCCESS);
  std::vector<float> x = toyInput(3, 4), y(3 * kToyH);
  ASSERT_EQ(run(layer, x.data(), y.data(), 3, nullptr), MOERT_SUCCESS);
  EXPECT_EQ(y, w.reference(x, 3));
  destroy(layer);
  dlclose(lib);
}

} // namespace
