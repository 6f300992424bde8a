//===- ManifestTest.cpp - Parsing and validating manifest.json ------------===//
//
// One good manifest, then one mutation per check, each with the message
// (JSON path included) it must give.
//
//===----------------------------------------------------------------------===//

#include "Manifest.h"
#include "TestUtil.h"
#include "ToyLayer.h"

#include <functional>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace moert;
using nlohmann::json;

namespace {

json goodManifest() {
  json m = moert_test::toyManifest();
  m["layers"][0]["targets"] = {
      {{"chip", "sm_80"},
       {"cubin", "toy.sm_80.cubin"},
       {"ptx", "toy.sm_80.ptx"}},
      {{"chip", "sm_90a"}, {"cubin", "toy.sm_90a.cubin"}}};
  return m;
}

Error parse(const json &m, Manifest &out) {
  return parseManifest(m.dump(), "manifest.json", "/models/toy", out);
}

TEST(Manifest, ParsesTheToyManifest) {
  Manifest m;
  Error e = parse(goodManifest(), m);
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(m.model, "toy");
  ASSERT_EQ(m.layers.size(), 1u);
  const LayerDesc &l = m.layers[0];
  EXPECT_EQ(l.function, "toy_layer");
  EXPECT_EQ(l.decoderLayers, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(l.dtype, DType::F32);
  EXPECT_EQ(l.hiddenSize, 8);
  EXPECT_EQ(l.maxTokens, 64);
  EXPECT_EQ(l.hostLibrary, "/models/toy/toy.host.so");
  ASSERT_EQ(l.targets.size(), 2u);
  EXPECT_EQ(l.targets[0].capability, 80);
  EXPECT_EQ(l.targets[0].suffix, 0);
  EXPECT_EQ(l.targets[0].cubin, "/models/toy/toy.sm_80.cubin");
  EXPECT_EQ(l.targets[0].ptx, "/models/toy/toy.sm_80.ptx");
  EXPECT_EQ(l.targets[1].capability, 90);
  EXPECT_EQ(l.targets[1].suffix, 'a');
  EXPECT_EQ(l.targets[1].cubin, "/models/toy/toy.sm_90a.cubin");
  EXPECT_TRUE(l.targets[1].ptx.empty());
  ASSERT_EQ(l.buffers.size(), 7u);
  EXPECT_EQ(l.input, 0u);
  EXPECT_EQ(l.output, 1u);
  EXPECT_EQ(l.buffers[3].weightElements, 64);
  EXPECT_TRUE(l.buffers[5].zeroInit);
  EXPECT_EQ(l.buffers[6].dtype, DType::I32);
  int64_t bytes;
  ASSERT_FALSE(l.buffers[4].bytesAt(10, bytes));
  EXPECT_EQ(bytes, 10 * 8 * 4);
  ASSERT_EQ(l.packing.size(), 2u);
  EXPECT_EQ(l.packing[1].buffer, 3u);
  EXPECT_EQ(l.packing[1].srcColStride, 8);
  ASSERT_EQ(l.kernels.size(), 3u);
  const KernelDesc &acc = l.kernels[2];
  EXPECT_EQ(acc.symbol, "toy_accumulate");
  ASSERT_EQ(acc.params.size(), 6u);
  EXPECT_EQ(acc.params[1].buffer, 3u);
  EXPECT_EQ(acc.params[5].kind, KernelParam::Kind::Tokens);
  EXPECT_EQ(acc.block, (std::array<uint32_t, 3>{64, 2, 1}));
  EXPECT_EQ(acc.grid[0].text(), "ceildiv(T,4)");
  EXPECT_EQ(acc.dynamicSharedMemory, 1024u);
  EXPECT_EQ(l.launches, (std::vector<size_t>{0, 1, 0, 2}));
}

TEST(Manifest, LoadsFromAFileRelativeToItsFolder) {
  moert_test::TempDir dir;
  ASSERT_TRUE(
      moert_test::writeFile(dir.file("manifest.json"), goodManifest().dump(2)));
  Manifest m;
  Error e = loadManifest(dir.file("manifest.json"), m);
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(m.layers[0].hostLibrary, dir.file("toy.host.so"));

  // A symlink inside the folder to a file inside it is fine; one leading
  // out of the folder is refused.
  ASSERT_TRUE(moert_test::writeFile(dir.file("real.host.so"), "x"));
  ASSERT_EQ(symlink("real.host.so", dir.file("toy.host.so").c_str()), 0);
  e = loadManifest(dir.file("manifest.json"), m);
  ASSERT_FALSE(e) << e.message();
  ASSERT_EQ(unlink(dir.file("toy.host.so").c_str()), 0);
  ASSERT_EQ(symlink("/bin/sh", dir.file("toy.host.so").c_str()), 0);
  e = loadManifest(dir.file("manifest.json"), m);
  ASSERT_TRUE(e);
  EXPECT_NE(e.message().find("layers[0].host_library: 'toy.host.so' is a "
                             "symlink leading out of the manifest's folder"),
            std::string::npos)
      << e.message();
  ASSERT_EQ(unlink(dir.file("toy.host.so").c_str()), 0);
  ASSERT_EQ(symlink("absent.so", dir.file("toy.host.so").c_str()), 0);
  e = loadManifest(dir.file("manifest.json"), m);
  ASSERT_TRUE(e);
  EXPECT_NE(e.message().find("is a symlink that does not resolve"),
            std::string::npos)
      << e.message();

  Error missing = loadManifest(dir.file("nope.json"), m);
  EXPECT_EQ(missing.code(), MOERT_ERROR_IO);
  EXPECT_NE(missing.message().find("nope.json"), std::string::npos);
}

struct BadCase {
  const char *what;
  std::function<void(json &)> mutate;
  const char *message;
};

void PrintTo(const BadCase &c, std::ostream *os) { *os << c.what; }

class BadManifest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadManifest, IsRefusedWithAPreciseMessage) {
  json m = goodManifest();
  GetParam().mutate(m);
  Manifest out;
  Error e = parse(m, out);
  ASSERT_TRUE(e) << "accepted";
  EXPECT_EQ(e.code(), MOERT_ERROR_MANIFEST);
  EXPECT_NE(e.message().find(GetParam().message), std::string::npos)
      << "message: " << e.message();
}

json &layer0(json &m) { return m["layers"][0]; }

const BadCase kBadCases[] = {
    {"MissingFormat", [](json &m) { m.erase("format"); },
     "manifest.json: missing field 'format'"},
    {"WrongFormat", [](json &m) { m["format"] = "onnx"; },
     "manifest.json: format: expected \"moe-kernels\", got \"onnx\""},
    {"FutureVersion", [](json &m) { m["version"] = 2; },
     "version: unsupported version 2; this runtime reads version 1"},
    {"NoLayers", [](json &m) { m["layers"] = json::array(); },
     "layers: must not be empty"},
    {"LayersNotArray", [](json &m) { m["layers"] = "x"; },
     "layers: expected an array, got string"},
    {"HiddenSizeString", [](json &m) { layer0(m)["hidden_size"] = "4096"; },
     "layers[0].hidden_size: expected an integer, got string"},
    {"MaxTokensZero", [](json &m) { layer0(m)["max_tokens"] = 0; },
     "layers[0].max_tokens: value 0 is out of range [1, 16777216]"},
    {"MissingFunction", [](json &m) { layer0(m).erase("function"); },
     "layers[0]: missing field 'function'"},
    {"IntegerLayerDtype", [](json &m) { layer0(m)["dtype"] = "i32"; },
     "layers[0].dtype: a layer's dtype must be f32, f16 or bf16"},
    {"UnknownBufferDtype",
     [](json &m) { layer0(m)["buffers"][4]["dtype"] = "fp8"; },
     "layers[0].buffers[4].dtype: unknown dtype 'fp8'"},
    {"UnknownBufferKind",
     [](json &m) { layer0(m)["buffers"][4]["kind"] = "scratch"; },
     "layers[0].buffers[4].kind: unknown kind 'scratch'"},
    {"TwoInputs",
     [](json &m) {
       json extra = layer0(m)["buffers"][0];
       extra["name"] = "x2";
       layer0(m)["buffers"].push_back(extra);
     },
     "layers[0].buffers: needs exactly one input buffer, found 2 ('x', 'x2')"},
    {"NoOutput", [](json &m) { layer0(m)["buffers"][1]["kind"] = "workspace"; },
     "needs exactly one output buffer, found 0"},
    {"InputNotTByH",
     [](json &m) {
       layer0(m)["buffers"][0]["shape"] = {"T", 7};
     },
     "layers[0].buffers[0].shape: the input buffer must have shape [\"T\", "
     "8] (hidden_size)"},
    {"OutputOtherDtype",
     [](json &m) { layer0(m)["buffers"][1]["dtype"] = "bf16"; },
     "layers[0].buffers[1].dtype: the output buffer must have the layer's "
     "dtype f32, not bf16"},
    {"DuplicateBuffer",
     [](json &m) { layer0(m)["buffers"][4]["name"] = "scale"; },
     "layers[0].buffers[4].name: duplicate buffer 'scale' (also buffers[2])"},
    {"WeightDependsOnT",
     [](json &m) { layer0(m)["buffers"][2]["shape"] = {"T"}; },
     "layers[0].buffers[2].shape: a weight's shape must not depend on T"},
    {"ZeroInitWeight",
     [](json &m) { layer0(m)["buffers"][2]["zero_init"] = true; },
     "layers[0].buffers[2].zero_init: only output and workspace buffers"},
    {"NegativeDimension",
     [](json &m) { layer0(m)["buffers"][5]["shape"] = {"T-2"}; },
     "layers[0].buffers[5].shape[0]: \"T-2\" may be negative (-1) for T in "
     "[1, 64]"},
    {"AbsurdBuffer",
     [](json &m) {
       layer0(m)["buffers"][4]["shape"] = {"T", 1 << 30, 1 << 20};
     },
     "layers[0].buffers[4].shape: buffer 'tmp' may need 288230376151711744 "
     "bytes, more than the limit"},
    {"BadShapeFormula",
     [](json &m) {
       layer0(m)["buffers"][4]["shape"] = {"T*", 8};
     },
     "layers[0].buffers[4].shape[0]: expected a number, 'T', '(' or a "
     "function at the end in \"T*\""},
    {"UnknownBufferInParams",
     [](json &m) { layer0(m)["kernels"][1]["params"][2]["name"] = "nope"; },
     "layers[0].kernels[1].params[2].name: unknown buffer 'nope'"},
    {"UnknownParamKind",
     [](json &m) { layer0(m)["kernels"][1]["params"][4]["kind"] = "int"; },
     "layers[0].kernels[1].params[4].kind: unknown kind 'int' (expected "
     "buffer or tokens)"},
    {"UnknownKernelInLaunches",
     [](json &m) { layer0(m)["launches"][1] = "toy_nope"; },
     "layers[0].launches[1]: unknown kernel 'toy_nope'"},
    {"EmptyLaunches", [](json &m) { layer0(m)["launches"] = json::array(); },
     "layers[0].launches: must not be empty"},
    {"BadGridFormula",
     [](json &m) { layer0(m)["kernels"][2]["grid"][0] = "ceildiv(N,16)"; },
     "manifest.json: layers[0].kernels[2].grid[0]: unknown name 'N' in "
     "\"ceildiv(N,16)\""},
    {"GridTooLarge",
     [](json &m) { layer0(m)["kernels"][1]["grid"][1] = "T*2000"; },
     "layers[0].kernels[1].grid[1]: \"T*2000\" may leave [1, 65535] (it "
     "spans [2000, 128000] for T in [1, 64])"},
    {"GridMayBeZero",
     [](json &m) { layer0(m)["kernels"][1]["grid"][0] = "T-1"; },
     "layers[0].kernels[1].grid[0]: \"T-1\" may leave [1, 2147483647]"},
    {"GridWrongLength",
     [](json &m) {
       layer0(m)["kernels"][1]["grid"] = {1, 1};
     },
     "layers[0].kernels[1].grid: expected 3 entries"},
    {"GridFloat", [](json &m) { layer0(m)["kernels"][1]["grid"][2] = 1.5; },
     "layers[0].kernels[1].grid[2]: expected an integer or a formula string, "
     "got float"},
    {"TooManyThreads",
     [](json &m) {
       layer0(m)["kernels"][1]["block"] = {64, 64, 1};
     },
     "layers[0].kernels[1].block: 4096 threads per block, more than 1024"},
    {"SharedMemoryTooLarge",
     [](json &m) {
       layer0(m)["kernels"][1]["dynamic_shared_memory"] = 1 << 20;
     },
     "layers[0].kernels[1].dynamic_shared_memory: value 1048576 is out of "
     "range [0, 262144]"},
    {"SymbolNotIdentifier",
     [](json &m) { layer0(m)["kernels"][0]["symbol"] = "toy-count"; },
     "layers[0].kernels[0].symbol: 'toy-count' is not a C identifier"},
    {"DuplicateKernel",
     [](json &m) { layer0(m)["kernels"][1]["symbol"] = "toy_count"; },
     "layers[0].kernels[1].symbol: duplicate kernel 'toy_count' (also "
     "kernels[0])"},
    {"MissingSymbol", [](json &m) { layer0(m)["kernels"][1].erase("symbol"); },
     "layers[0].kernels[1]: missing field 'symbol'"},
    {"PackingOutOfBounds",
     [](json &m) { layer0(m)["weight_packing"][1]["dst_offset"] = 1; },
     "layers[0].weight_packing[1]: out of bounds: writes past the 64 "
     "elements of buffer 'proj'"},
    {"PackingNotAWeight",
     [](json &m) { layer0(m)["weight_packing"][0]["buffer"] = "tmp"; },
     "layers[0].weight_packing[0].buffer: buffer 'tmp' is not a weight"},
    {"PackingUnknownBuffer",
     [](json &m) { layer0(m)["weight_packing"][0]["buffer"] = "bias"; },
     "layers[0].weight_packing[0].buffer: unknown buffer 'bias'"},
    {"PackingMissesAWeight",
     [](json &m) { layer0(m)["weight_packing"].erase(0); },
     "layers[0].weight_packing: the steps write 0 elements of weight "
     "'scale', which has 8"},
    {"PackingWritesTwice",
     [](json &m) {
       layer0(m)["weight_packing"].push_back(layer0(m)["weight_packing"][0]);
     },
     "the steps write 16 elements of weight 'scale', which has 8"},
    {"PackingNegativeStride",
     [](json &m) { layer0(m)["weight_packing"][1]["src_row_stride"] = -1; },
     "layers[0].weight_packing[1].src_row_stride: value -1 is out of range"},
    {"PackingFloatRows",
     [](json &m) { layer0(m)["weight_packing"][1]["rows"] = 8.0; },
     "layers[0].weight_packing[1].rows: expected an integer, got float"},
    {"PackingSourceOverflow",
     [](json &m) {
       layer0(m)["weight_packing"][1]["src_row_stride"] = int64_t(1) << 62;
     },
     "layers[0].weight_packing[1]: the source view overflows 64 bits"},
    {"BadChip", [](json &m) { layer0(m)["targets"][0]["chip"] = "gfx90a"; },
     "layers[0].targets[0].chip: expected a chip like \"sm_90\""},
    {"DuplicateChip",
     [](json &m) { layer0(m)["targets"][1]["chip"] = "sm_80"; },
     "layers[0].targets[1].chip: duplicate chip 'sm_80'"},
    {"TargetWithoutCode",
     [](json &m) {
       layer0(m)["targets"][0].erase("cubin");
       layer0(m)["targets"][0].erase("ptx");
     },
     "layers[0].targets[0]: a target needs a \"cubin\" or a \"ptx\" file"},
    {"DuplicateDecoderLayer",
     [](json &m) {
       layer0(m)["decoder_layers"] = {2, 2};
     },
     "layers[0].decoder_layers[1]: decoder layer 2 is listed twice"},
    {"DuplicateFunction", [](json &m) { m["layers"].push_back(layer0(m)); },
     "layers[1].function: duplicate function 'toy_layer' (also layers[0])"},
    // Hostile file names: moert dlopen()s what a manifest names.
    {"AbsoluteHostLibrary",
     [](json &m) { layer0(m)["host_library"] = "/usr/lib/libevil.so"; },
     "layers[0].host_library: '/usr/lib/libevil.so' is not a plain file "
     "name in the manifest's folder"},
    {"ParentCubin",
     [](json &m) { layer0(m)["targets"][0]["cubin"] = "../other/x.cubin"; },
     "layers[0].targets[0].cubin: '../other/x.cubin' is not a plain file "
     "name"},
    {"DotDotPtx", [](json &m) { layer0(m)["targets"][0]["ptx"] = ".."; },
     "layers[0].targets[0].ptx: '..' is not a plain file name"},
    {"SubfolderEmulator",
     [](json &m) { layer0(m)["targets"][1]["emulator"] = "sub/x.emu.so"; },
     "layers[0].targets[1].emulator: 'sub/x.emu.so' is not a plain file "
     "name"},
    {"ControlCharacter",
     [](json &m) { layer0(m)["host_library"] = "toy\n.so"; },
     "layers[0].host_library: 'toy\n.so' is not a plain file name"},
    {"HugeUnsigned",
     [](json &m) { layer0(m)["hidden_size"] = uint64_t(1) << 63; },
     "layers[0].hidden_size: integer out of range"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadManifest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase> &info) {
                           return std::string(info.param.what);
                         });

TEST(Manifest, SyntaxErrorsGiveLineAndColumn) {
  Manifest m;
  Error e = parseManifest("{\"format\": \"moe-kernels\",\n  \"version\": }",
                          "manifest.json", ".", m);
  ASSERT_TRUE(e);
  EXPECT_NE(e.message().find("manifest.json: parse error at line 2, column"),
            std::string::npos)
      << e.message();
  e = parseManifest("[1, 2]", "manifest.json", ".", m);
  EXPECT_EQ(e.message(), "manifest.json: expected an object, got array");
  e = parseManifest("", "manifest.json", ".", m);
  EXPECT_TRUE(e);
}

TEST(Manifest, OptionalFieldsMayBeAbsent) {
  json m = goodManifest();
  layer0(m).erase("decoder_layers");
  layer0(m).erase("host_library");
  layer0(m)["kernels"][0].erase("dynamic_shared_memory");
  m.erase("model");
  Manifest out;
  Error e = parse(m, out);
  ASSERT_FALSE(e) << e.message();
  EXPECT_TRUE(out.layers[0].decoderLayers.empty());
  EXPECT_TRUE(out.layers[0].hostLibrary.empty());
  EXPECT_EQ(out.layers[0].kernels[0].dynamicSharedMemory, 0u);
}

} // namespace
