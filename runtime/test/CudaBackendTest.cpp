//===- CudaBackendTest.cpp - The CUDA backend, without a GPU --------------===//
//
// Three layers of checks: selectTarget() on its own; the real driver's
// absence (this machine has no libcuda.so.1); and the whole backend against
// FakeCuda.c, a stand-in driver that runs the toy kernels on the host.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"
#include "TestUtil.h"
#include "ToyLayer.h"
#include "moert/moert.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

using namespace moert_test;
using nlohmann::json;

namespace {

moert::TargetDesc target(const char *chip, int capability, char suffix,
                         bool ptx) {
  moert::TargetDesc t;
  t.chip = chip;
  t.capability = capability;
  t.suffix = suffix;
  t.cubin = std::string(chip) + ".cubin";
  if (ptx)
    t.ptx = std::string(chip) + ".ptx";
  return t;
}

/// The chip chosen and "cubin"/"ptx", or the error message.
std::string choose(const std::vector<moert::TargetDesc> &targets,
                   int capability) {
  moert::LayerDesc layer;
  layer.function = "f";
  layer.targets = targets;
  moert::TargetChoice choice;
  if (moert::Error e = moert::selectTarget(layer, capability, choice))
    return e.message();
  return targets[choice.index].chip + (choice.usePtx ? " ptx" : " cubin");
}

TEST(SelectTarget, PrefersTheExactChipThenCompatibleOnes) {
  std::vector<moert::TargetDesc> targets = {
      target("sm_80", 80, 0, true), target("sm_90", 90, 0, false),
      target("sm_90a", 90, 'a', false), target("sm_100f", 100, 'f', false)};
  EXPECT_EQ(choose(targets, 80), "sm_80 cubin");
  EXPECT_EQ(choose(targets, 86), "sm_80 cubin"); // same major, lower minor
  EXPECT_EQ(choose(targets, 89), "sm_80 cubin");
  EXPECT_EQ(choose(targets, 90), "sm_90a cubin"); // arch-specific first
  EXPECT_EQ(choose(targets, 100), "sm_100f cubin");
  EXPECT_EQ(choose(targets, 103), "sm_100f cubin"); // family: same major
  // Another major: only PTX of a lower, generic chip can serve.
  EXPECT_EQ(choose(targets, 120), "sm_80 ptx");
  EXPECT_EQ(choose(targets, 75),
            "CUDA backend: layer 'f' has no kernels for this device (sm_75); "
            "the manifest has sm_80, sm_90 (cubin only), sm_90a (cubin "
            "only), sm_100f (cubin only). A cubin runs only on its own major "
            "version; PTX of a lower chip is JIT-compiled");
}

// Emitted without ptxas: PTX only, which the driver JIT-compiles, on the
// chip itself and on later ones; never taken for a cubin.
TEST(SelectTarget, TakesPtxWhereThereIsNoCubin) {
  moert::TargetDesc sm80 = target("sm_80", 80, 0, true);
  moert::TargetDesc sm90 = target("sm_90", 90, 0, true);
  sm80.cubin.clear();
  sm90.cubin.clear();
  EXPECT_EQ(choose({sm80, sm90}, 80), "sm_80 ptx");
  EXPECT_EQ(choose({sm80, sm90}, 86), "sm_80 ptx");
  EXPECT_EQ(choose({sm80, sm90}, 90), "sm_90 ptx");
  EXPECT_EQ(choose({sm80, sm90}, 120), "sm_90 ptx");
  EXPECT_TRUE(contains(choose({sm90}, 80), "sm_90 (PTX only)"));
}

TEST(SelectTarget, NeverRunsArchSpecificCubinsElsewhere) {
  std::vector<moert::TargetDesc> targets = {target("sm_90a", 90, 'a', true)};
  EXPECT_EQ(choose(targets, 90), "sm_90a cubin");
  EXPECT_TRUE(contains(choose(targets, 91), "has no kernels for this device "
                                            "(sm_91)"));
  EXPECT_TRUE(
      contains(choose(targets, 100), "the manifest has sm_90a. A cubin"));
  EXPECT_TRUE(contains(choose({}, 90), "the manifest has no targets"));
  // The highest qualifying chip wins.
  EXPECT_EQ(choose({target("sm_70", 70, 0, true), target("sm_80", 80, 0, true),
                    target("sm_75", 75, 0, true)},
                   90),
            "sm_80 ptx");
}

TEST(CudaBackend, WithoutTheDriverLoadingFailsNamingLibcuda) {
  if (void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(driver);
    GTEST_SKIP() << "libcuda.so.1 is installed here, so the no-driver path "
                    "cannot be observed";
  }
  TempDir dir;
  json m = toyManifest();
  m["layers"][0]["targets"] = {{{"chip", "sm_90"}, {"cubin", "t.cubin"}}};
  ASSERT_TRUE(writeFile(dir.file("manifest.json"), m.dump()));
  moert_layer *layer = nullptr;
  EXPECT_EQ(moert_layer_load(dir.file("manifest.json").c_str(), nullptr,
                             MOERT_BACKEND_CUDA, &layer),
            MOERT_ERROR_BACKEND);
  EXPECT_EQ(layer, nullptr);
  EXPECT_TRUE(contains(moert_last_error(),
                       "CUDA backend: cannot load libcuda.so.1 (the NVIDIA "
                       "driver's libcuda)"));
}

struct FakeCudaState {
  int major, minor, sharedOptIn, failAllocations, retainedContexts,
      liveAllocations, liveModules, launches, launchesOutsideContext;
  unsigned lastGrid[3], lastBlock[3], lastShared;
  void *lastStream;
  int memsets;
  long long uploadedBytes;
  int attributeCalls, lastAttribute, lastAttributeValue;
  char lastImageKind[8];
};

/// The toy layer on the CUDA backend with FakeCuda.c as the driver.
class FakeCudaLayer : public ::testing::Test {
protected:
  TempDir dir;
  json manifest = toyManifest();
  void *fake = nullptr;
  FakeCudaState *state = nullptr;
  void (*reset)(int, int) = nullptr;

  void SetUp() override {
    // Same path as the runtime's dlopen, hence the same loaded instance.
    fake = dlopen(MOERT_FAKE_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(fake, nullptr) << dlerror();
    state = reinterpret_cast<FakeCudaState *(*)()>(
        dlsym(fake, "fake_cuda_state"))();
    reset =
        reinterpret_cast<void (*)(int, int)>(dlsym(fake, "fake_cuda_reset"));
    reset(9, 0);
    moert::setCudaDriverLibraryForTesting(MOERT_FAKE_CUDA_LIBRARY);
    std::string toy = dir.file("toy.host.so");
    ASSERT_TRUE(copyFile(MOERT_TOY_LIBRARY, toy));
    // The "cubins" and "PTX" name the host library the fake driver runs.
    for (const char *name : {"toy.sm_80.cubin", "toy.sm_90.cubin"})
      ASSERT_TRUE(writeFile(dir.file(name), "FAKECUBIN " + toy));
    ASSERT_TRUE(writeFile(dir.file("toy.sm_80.ptx"), "FAKEPTX " + toy));
    ASSERT_TRUE(writeFile(dir.file("broken.cubin"), "\x7f"
                                                    "ELF garbage"));
    manifest["layers"][0]["targets"] = {
        {{"chip", "sm_80"},
         {"cubin", "toy.sm_80.cubin"},
         {"ptx", "toy.sm_80.ptx"}},
        {{"chip", "sm_90"}, {"cubin", "toy.sm_90.cubin"}}};
  }

  void TearDown() override {
    moert::setCudaDriverLibraryForTesting(nullptr);
    if (fake)
      dlclose(fake);
  }

  json &layer0() { return manifest["layers"][0]; }

  LayerPtr load(moert_status &status) {
    std::string path = dir.file("manifest.json");
    EXPECT_TRUE(writeFile(path, manifest.dump()));
    moert_layer *layer = nullptr;
    status =
        moert_layer_load(path.c_str(), nullptr, MOERT_BACKEND_CUDA, &layer);
    return LayerPtr(layer, moert_layer_destroy);
  }

  LayerPtr loadWithWeights(const ToyWeights &weights) {
    moert_status status;
    LayerPtr layer = load(status);
    EXPECT_EQ(status, MOERT_SUCCESS) << moert_last_error();
    if (!layer)
      return layer;
    SafeTensorsWriter writer;
    weights.addTo(writer, 0);
    EXPECT_TRUE(writer.write(dir.file("w.safetensors")));
    EXPECT_EQ(moert_layer_load_weights(layer.get(),
                                       dir.file("w.safetensors").c_str(), 0),
              MOERT_SUCCESS)
        << moert_last_error();
    return layer;
  }
};

TEST_F(FakeCudaLayer, RunsTheExactChipsCubinEndToEnd) {
  ToyWeights weights(4);
  LayerPtr layer = loadWithWeights(weights);
  ASSERT_TRUE(layer);
  EXPECT_STREQ(moert_layer_target(layer.get()), "sm_90");
  EXPECT_EQ(std::string(moert_layer_target_file(layer.get())),
            dir.file("toy.sm_90.cubin"));
  EXPECT_STREQ(state->lastImageKind, "cubin");
  EXPECT_EQ(state->retainedContexts, 1);
  // Both weights were uploaded whole once complete, in device memory.
  EXPECT_EQ(state->uploadedBytes, (8 + 64) * 4);
  EXPECT_EQ(state->liveAllocations, 2);

  for (int64_t tokens : {1, 6, 33, 6}) {
    int launches = state->launches, memsets = state->memsets;
    expectToyRun(layer.get(), weights, tokens, 5);
    EXPECT_EQ(state->launches - launches, 4);
    EXPECT_EQ(state->memsets - memsets, 2); // rowsum and counter
    EXPECT_EQ(state->launchesOutsideContext, 0);
    // The last launch is toy_accumulate: grid ["ceildiv(T,4)", "min(T,2)",
    // 1], block [64, 2, 1], 1024 bytes of dynamic shared memory.
    EXPECT_EQ(state->lastGrid[0], unsigned((tokens + 3) / 4));
    EXPECT_EQ(state->lastGrid[1], unsigned(std::min<int64_t>(tokens, 2)));
    EXPECT_EQ(state->lastGrid[2], 1u);
    EXPECT_EQ(state->lastBlock[0], 64u);
    EXPECT_EQ(state->lastBlock[1], 2u);
    EXPECT_EQ(state->lastShared, 1024u);
  }
  EXPECT_EQ(state->attributeCalls, 0); // 1 KiB needs no opt-in

  // The stream reaches the memsets and launches untouched.
  void *stream = reinterpret_cast<void *>(0x5150);
  std::vector<float> x = toyInput(2, 0), y(2 * kToyH);
  ASSERT_EQ(moert_layer_run(layer.get(), x.data(), y.data(), 2, stream),
            MOERT_SUCCESS);
  EXPECT_EQ(state->lastStream, stream);
  EXPECT_EQ(y, weights.reference(x, 2));

  layer.reset();
  EXPECT_EQ(state->liveAllocations, 0);
  EXPECT_EQ(state->liveModules, 0);
  EXPECT_EQ(state->retainedContexts, 0);
}

TEST_F(FakeCudaLayer, FallsBackToALowerCubinOrPtx) {
  reset(8, 6); // an sm_86 device runs the sm_80 cubin
  ToyWeights weights(1);
  LayerPtr layer = loadWithWeights(weights);
  ASSERT_TRUE(layer);
  EXPECT_STREQ(moert_layer_target(layer.get()), "sm_80");
  EXPECT_STREQ(state->lastImageKind, "cubin");
  expectToyRun(layer.get(), weights, 3, 1);
  layer.reset();

  reset(12, 0); // a newer major version JIT-compiles sm_80's PTX
  layer = loadWithWeights(weights);
  ASSERT_TRUE(layer);
  EXPECT_STREQ(moert_layer_target(layer.get()), "sm_80");
  EXPECT_EQ(std::string(moert_layer_target_file(layer.get())),
            dir.file("toy.sm_80.ptx"));
  EXPECT_STREQ(state->lastImageKind, "ptx");
  expectToyRun(layer.get(), weights, 3, 1);
  layer.reset();

  reset(7, 5);
  moert_status status;
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(),
                       "no kernels for this device (sm_75); the manifest "
                       "has sm_80, sm_90 (cubin only)"));
  EXPECT_EQ(state->retainedContexts, 0); // released on the failure path
}

TEST_F(FakeCudaLayer, OptsIntoLargeDynamicSharedMemory) {
  layer0()["kernels"][2]["dynamic_shared_memory"] = 100000;
  moert_status status;
  LayerPtr layer = load(status);
  ASSERT_EQ(status, MOERT_SUCCESS) << moert_last_error();
  EXPECT_EQ(state->attributeCalls, 1);
  EXPECT_EQ(state->lastAttribute, 8); // MAX_DYNAMIC_SHARED_SIZE_BYTES
  EXPECT_EQ(state->lastAttributeValue, 100000);
  layer.reset();

  layer0()["kernels"][2]["dynamic_shared_memory"] = 240000;
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(),
                       "kernel 'toy_accumulate' needs 240000 bytes of "
                       "dynamic shared memory; the device allows 232448"));
}

TEST_F(FakeCudaLayer, DriverErrorsAreReportedByName) {
  layer0()["targets"][1]["cubin"] = "broken.cubin";
  moert_status status;
  LayerPtr layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(), "CUDA backend: cannot load '" +
                                               dir.file("broken.cubin") +
                                               "' on sm_90: "
                                               "CUDA_ERROR_INVALID_IMAGE"));
  EXPECT_TRUE(contains(moert_last_error(), "\nfake: not a fake image"));

  layer0()["targets"][1]["cubin"] = "absent.cubin";
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_IO);
  EXPECT_TRUE(contains(moert_last_error(), "absent.cubin"));

  layer0()["targets"][1]["cubin"] = "toy.sm_90.cubin";
  layer0()["kernels"][1]["symbol"] = "toy_missing";
  layer0()["launches"][1] = "toy_missing";
  layer = load(status);
  EXPECT_EQ(status, MOERT_ERROR_BACKEND);
  EXPECT_TRUE(contains(moert_last_error(),
                       "cuModuleGetFunction('toy_missing') failed: "
                       "CUDA_ERROR_NOT_FOUND"));
  EXPECT_EQ(state->liveModules, 0);
}

TEST_F(FakeCudaLayer, DeviceOutOfMemory) {
  moert_status status;
  LayerPtr layer = load(status);
  ASSERT_EQ(status, MOERT_SUCCESS) << moert_last_error();
  state->failAllocations = 1;
  SafeTensorsWriter writer;
  ToyWeights(0).addTo(writer, 0);
  ASSERT_TRUE(writer.write(dir.file("w.safetensors")));
  EXPECT_EQ(moert_layer_load_weights(layer.get(),
                                     dir.file("w.safetensors").c_str(), 0),
            MOERT_ERROR_OUT_OF_MEMORY);
  EXPECT_TRUE(contains(moert_last_error(),
                       "weight 'scale': CUDA backend: cuMemAlloc(32 bytes) "
                       "failed: CUDA_ERROR_OUT_OF_MEMORY"));
  EXPECT_EQ(moert_layer_reserve(layer.get(), 8), MOERT_ERROR_OUT_OF_MEMORY);
  state->failAllocations = 0;
  ASSERT_EQ(moert_layer_load_weights(layer.get(),
                                     dir.file("w.safetensors").c_str(), 0),
            MOERT_SUCCESS)
      << moert_last_error();
  expectToyRun(layer.get(), ToyWeights(0), 8, 0);
}

} // namespace
