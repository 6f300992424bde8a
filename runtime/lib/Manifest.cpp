//===- Manifest.cpp - The kernel manifest, parsed and validated -----------===//

#include "Manifest.h"
#include "moe-support/Json.h"

#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sys/stat.h>

namespace moert {

using json = nlohmann::json;
using moe::support::jsonTypeName;

static bool checkedMul(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}
static bool checkedAdd(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_add_overflow(a, b, &out);
}

Error BufferDesc::bytesAt(int64_t tokens, int64_t &bytes) const {
  int64_t total = int64_t(elementSize(dtype));
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t dim;
    if (Error e = shape[i].evaluate(tokens, dim))
      return e.withPrefix(str("buffer '", name, "' shape[", i, "]"));
    if (dim < 0)
      return makeError(MOERT_ERROR_MANIFEST, "buffer '", name, "' shape[", i,
                       "] is ", dim, " at T=", tokens);
    if (!checkedMul(total, dim, total))
      return makeError(MOERT_ERROR_MANIFEST, "buffer '", name,
                       "' size overflows 64 bits at T=", tokens);
  }
  bytes = total;
  return Error::success();
}

Error BufferDesc::maxBytes(int64_t tokens, int64_t &bytes) const {
  int64_t total = int64_t(elementSize(dtype));
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t lo, hi;
    if (Error e = shape[i].bounds(1, tokens, lo, hi))
      return e.withPrefix(str("buffer '", name, "' shape[", i, "]"));
    if (!checkedMul(total, std::max<int64_t>(hi, 0), total))
      return makeError(MOERT_ERROR_MANIFEST, "buffer '", name,
                       "' size may overflow 64 bits for T <= ", tokens);
  }
  bytes = total;
  return Error::success();
}

Error readFile(const std::string &path, size_t limit, std::string &out) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return makeError(MOERT_ERROR_IO, "cannot open '", path, "'");
  std::string text;
  char chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, file)) > 0) {
    if (text.size() + n > limit) {
      std::fclose(file);
      return makeError(MOERT_ERROR_IO, "'", path, "' is larger than ", limit,
                       " bytes");
    }
    text.append(chunk, n);
  }
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    return makeError(MOERT_ERROR_IO, "cannot read '", path, "'");
  out = std::move(text);
  return Error::success();
}

namespace {

bool isIdentifier(const std::string &s) {
  if (s.empty() || s.size() > 256 ||
      std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

std::string join(const std::string &path, const std::string &key) {
  return path.empty() ? key : path + "." + key;
}

std::string index(const std::string &path, size_t i) {
  return str(path, "[", i, "]");
}

/// Walks the JSON document; every error names the manifest and a JSON path.
class ManifestParser {
public:
  ManifestParser(const std::string &name, const std::string &directory)
      : name(name), directory(directory) {}

  Error parse(const json &root, Manifest &out);

private:
  const std::string &name;
  const std::string &directory;

  Error fail(const std::string &path, const std::string &message) const {
    if (path.empty())
      return Error(MOERT_ERROR_MANIFEST, name + ": " + message);
    return Error(MOERT_ERROR_MANIFEST, name + ": " + path + ": " + message);
  }

  /// `file` (at JSON path `path`) inside the manifest's folder. An emitted
  /// folder is passed around, and moert dlopen()s what it names: a name
  /// must be a plain file name (no '/', no "..", no absolute path), and an
  /// existing symlink must not lead out of the folder.
  Error resolve(const std::string &file, const std::string &path,
                std::string &out) const {
    bool plain =
        !file.empty() && file.size() <= 255 && file != "." && file != "..";
    for (char c : file)
      if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
        plain = false;
    if (!plain)
      return fail(path, "'" + file +
                            "' is not a plain file name in the manifest's "
                            "folder (no '/', '..' or absolute path)");
    out = directory + "/" + file;
    struct stat link;
    if (lstat(out.c_str(), &link) != 0 || !S_ISLNK(link.st_mode))
      return Error::success();
    char target[PATH_MAX], folder[PATH_MAX];
    if (!realpath(out.c_str(), target) || !realpath(directory.c_str(), folder))
      return fail(path, "'" + file + "' is a symlink that does not resolve");
    std::string resolved(target), inside = std::string(folder) + "/";
    if (resolved.compare(0, inside.size(), inside) != 0 ||
        resolved.find('/', inside.size()) != std::string::npos)
      return fail(path, "'" + file +
                            "' is a symlink leading out of the "
                            "manifest's folder (to '" +
                            resolved + "')");
    return Error::success();
  }

  Error expectObject(const json &value, const std::string &path) const {
    if (!value.is_object())
      return fail(path, "expected an object, got " + jsonTypeName(value));
    return Error::success();
  }

  /// Looks up `key` of the object at `path`; a missing key is an error
  /// unless `required` is false, when `out` is null.
  Error field(const json &object, const std::string &path, const char *key,
              const json *&out, bool required = true) const {
    auto it = object.find(key);
    if (it == object.end()) {
      out = nullptr;
      if (required)
        return fail(path, str("missing field '", key, "'"));
      return Error::success();
    }
    out = &*it;
    return Error::success();
  }

  Error asString(const json &value, const std::string &path,
                 std::string &out) const {
    if (!value.is_string())
      return fail(path, "expected a string, got " + jsonTypeName(value));
    out = value.get<std::string>();
    if (out.find('\0') != std::string::npos)
      return fail(path, "string contains a NUL character");
    return Error::success();
  }

  Error getString(const json &object, const std::string &path, const char *key,
                  std::string &out, bool required = true) const {
    const json *value;
    if (Error e = field(object, path, key, value, required))
      return e;
    if (!value)
      return Error::success();
    return asString(*value, join(path, key), out);
  }

  Error asInt(const json &value, const std::string &path, int64_t lo,
              int64_t hi, int64_t &out) const {
    if (!value.is_number_integer())
      return fail(path, "expected an integer, got " + jsonTypeName(value));
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > uint64_t(INT64_MAX))
      return fail(path, "integer out of range");
    int64_t v = value.get<int64_t>();
    if (v < lo || v > hi)
      return fail(path,
                  str("value ", v, " is out of range [", lo, ", ", hi, "]"));
    out = v;
    return Error::success();
  }

  Error getInt(const json &object, const std::string &path, const char *key,
               int64_t lo, int64_t hi, int64_t &out) const {
    const json *value;
    if (Error e = field(object, path, key, value))
      return e;
    return asInt(*value, join(path, key), lo, hi, out);
  }

  Error getArray(const json &object, const std::string &path, const char *key,
                 const json *&out, size_t maxSize, bool nonEmpty) const {
    if (Error e = field(object, path, key, out))
      return e;
    std::string at = join(path, key);
    if (!out->is_array())
      return fail(at, "expected an array, got " + jsonTypeName(*out));
    if (nonEmpty && out->empty())
      return fail(at, "must not be empty");
    if (out->size() > maxSize)
      return fail(at, str("more than ", maxSize, " entries"));
    return Error::success();
  }

  Error asExpr(const json &value, const std::string &path, Expr &out) const {
    if (value.is_number_integer()) {
      int64_t v;
      if (Error e = asInt(value, path, INT64_MIN, INT64_MAX, v))
        return e;
      out = Expr::constant(v);
      return Error::success();
    }
    if (!value.is_string())
      return fail(path, "expected an integer or a formula string, got " +
                            jsonTypeName(value));
    if (Error e = Expr::parse(value.get<std::string>(), out))
      return fail(path, e.message());
    return Error::success();
  }

  Error parseDTypeField(const json &object, const std::string &path,
                        DType &out) const {
    std::string text;
    if (Error e = getString(object, path, "dtype", text))
      return e;
    std::optional<DType> dtype = moe::support::parseManifestName(text);
    if (!dtype)
      return fail(join(path, "dtype"), "unknown dtype '" + text +
                                           "' (expected f32, f16, bf16, "
                                           "i32 or i64)");
    out = *dtype;
    return Error::success();
  }

  Error parseLayer(const json &value, const std::string &path,
                   LayerDesc &layer) const;
  Error parseTarget(const json &value, const std::string &path,
                    TargetDesc &target) const;
  Error parseBuffer(const json &value, const std::string &path,
                    const LayerDesc &layer, BufferDesc &buffer) const;
  Error checkIOBuffer(const LayerDesc &layer, size_t index,
                      const std::string &path) const;
  Error parseStep(const json &value, const std::string &path,
                  const LayerDesc &layer,
                  const std::map<std::string, size_t> &buffers,
                  PackStep &step) const;
  Error parseCpuForm(const json &value, const std::string &path,
                     const LayerDesc &layer, CpuFormDesc &form) const;
  /// `kernels` and `launches` of the object at `path` (a layer or its CPU
  /// form), their buffer parameters named in `bufferIndex`.
  Error parseKernelsAndLaunches(
      const json &value, const std::string &path, const LayerDesc &layer,
      const std::map<std::string, size_t> &bufferIndex,
      std::vector<KernelDesc> &kernels, std::vector<size_t> &launches) const;
  Error parseKernel(const json &value, const std::string &path,
                    const LayerDesc &layer,
                    const std::map<std::string, size_t> &buffers,
                    KernelDesc &kernel) const;
};

Error ManifestParser::parse(const json &root, Manifest &out) {
  if (Error e = expectObject(root, ""))
    return e;
  std::string format;
  if (Error e = getString(root, "", "format", format))
    return e;
  if (format != "moe-kernels")
    return fail("format", "expected \"moe-kernels\", got \"" + format + "\"");
  const json *version;
  if (Error e = field(root, "", "version", version))
    return e;
  if (!version->is_number_integer() || version->get<int64_t>() != 1)
    return fail("version", "unsupported version " + version->dump() +
                               "; this runtime reads version 1");
  Manifest manifest;
  if (Error e = getString(root, "", "model", manifest.model, false))
    return e;
  const json *layers;
  if (Error e = getArray(root, "", "layers", layers, 4096, true))
    return e;
  std::map<std::string, size_t> functions;
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string path = index("layers", i);
    LayerDesc layer;
    if (Error e = parseLayer((*layers)[i], path, layer))
      return e;
    auto [it, inserted] = functions.emplace(layer.function, i);
    if (!inserted)
      return fail(join(path, "function"),
                  str("duplicate function '", layer.function, "' (also layers[",
                      it->second, "])"));
    manifest.layers.push_back(std::move(layer));
  }
  out = std::move(manifest);
  return Error::success();
}

Error ManifestParser::parseTarget(const json &value, const std::string &path,
                                  TargetDesc &target) const {
  if (Error e = expectObject(value, path))
    return e;
  if (Error e = getString(value, path, "chip", target.chip))
    return e;
  // sm_<digits>[a|f]: major = digits / 10, minor = digits % 10.
  const std::string &chip = target.chip;
  size_t end = chip.size();
  if (end > 0 && (chip[end - 1] == 'a' || chip[end - 1] == 'f'))
    target.suffix = chip[--end];
  bool ok = chip.compare(0, 3, "sm_") == 0 && end > 4 && end <= 6;
  int capability = 0;
  for (size_t i = 3; ok && i < end; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(chip[i])))
      ok = false;
    else
      capability = capability * 10 + (chip[i] - '0');
  }
  if (!ok || capability < 10)
    return fail(join(path, "chip"), "expected a chip like \"sm_90\" or "
                                    "\"sm_90a\", got \"" +
                                        chip + "\"");
  target.capability = capability;
  // A cubin, PTX (which the driver JIT-compiles: what an emission without
  // ptxas writes), or both.
  std::string cubin, ptx;
  if (Error e = getString(value, path, "cubin", cubin, false))
    return e;
  if (Error e = getString(value, path, "ptx", ptx, false))
    return e;
  if (cubin.empty() && ptx.empty())
    return fail(path, "a target needs a \"cubin\" or a \"ptx\" file");
  if (!cubin.empty())
    if (Error e = resolve(cubin, join(path, "cubin"), target.cubin))
      return e;
  if (!ptx.empty())
    if (Error e = resolve(ptx, join(path, "ptx"), target.ptx))
      return e;
  std::string emulator;
  if (Error e = getString(value, path, "emulator", emulator, false))
    return e;
  if (!emulator.empty())
    if (Error e = resolve(emulator, join(path, "emulator"), target.emulator))
      return e;
  return Error::success();
}

Error ManifestParser::parseBuffer(const json &value, const std::string &path,
                                  const LayerDesc &layer,
                                  BufferDesc &buffer) const {
  if (Error e = expectObject(value, path))
    return e;
  if (Error e = getString(value, path, "name", buffer.name))
    return e;
  if (buffer.name.empty() || buffer.name.size() > 256)
    return fail(join(path, "name"), "a buffer name must have 1 to 256 "
                                    "characters");
  std::string kind;
  if (Error e = getString(value, path, "kind", kind))
    return e;
  if (kind == "input")
    buffer.kind = BufferKind::Input;
  else if (kind == "output")
    buffer.kind = BufferKind::Output;
  else if (kind == "weight")
    buffer.kind = BufferKind::Weight;
  else if (kind == "workspace")
    buffer.kind = BufferKind::Workspace;
  else
    return fail(join(path, "kind"), "unknown kind '" + kind +
                                        "' (expected input, output, weight "
                                        "or workspace)");
  if (Error e = parseDTypeField(value, path, buffer.dtype))
    return e;

  const json *shape;
  if (Error e = getArray(value, path, "shape", shape, ManifestLimits::kMaxRank,
                         false))
    return e;
  std::string shapePath = join(path, "shape");
  for (size_t i = 0; i < shape->size(); ++i) {
    Expr dim;
    std::string dimPath = index(shapePath, i);
    if (Error e = asExpr((*shape)[i], dimPath, dim))
      return e;
    int64_t lo, hi;
    if (Error e = dim.bounds(1, layer.maxTokens, lo, hi))
      return fail(dimPath, e.message());
    if (lo < 0)
      return fail(dimPath, str("\"", dim.text(), "\" may be negative (", lo,
                               ") for T in [1, ", layer.maxTokens, "]"));
    buffer.shape.push_back(std::move(dim));
  }

  const json *zeroInit;
  if (Error e = field(value, path, "zero_init", zeroInit, false))
    return e;
  if (zeroInit) {
    if (!zeroInit->is_boolean())
      return fail(join(path, "zero_init"),
                  "expected a boolean, got " + jsonTypeName(*zeroInit));
    buffer.zeroInit = zeroInit->get<bool>();
    if (buffer.zeroInit &&
        (buffer.kind == BufferKind::Input || buffer.kind == BufferKind::Weight))
      return fail(join(path, "zero_init"),
                  "only output and workspace buffers can be zero_init");
  }

  int64_t maxBytes;
  if (Error e = buffer.maxBytes(layer.maxTokens, maxBytes))
    return fail(shapePath, e.message());
  if (maxBytes > ManifestLimits::kMaxBufferBytes)
    return fail(shapePath, str("buffer '", buffer.name, "' may need ", maxBytes,
                               " bytes, more than the limit of ",
                               ManifestLimits::kMaxBufferBytes));

  if (buffer.kind == BufferKind::Weight) {
    for (const Expr &dim : buffer.shape)
      if (!dim.isConstant())
        return fail(shapePath, "a weight's shape must not depend on T");
    if (!moe::support::isWeightStorage(buffer.dtype))
      return fail(join(path, "dtype"),
                  "a weight must be f32, f16, bf16 or quantized storage "
                  "(f8e4m3, f8e8m0, i8)");
    int64_t bytes;
    if (Error e = buffer.bytesAt(1, bytes))
      return fail(shapePath, e.message());
    buffer.weightElements = bytes / int64_t(elementSize(buffer.dtype));
    if (buffer.weightElements == 0)
      return fail(shapePath, "a weight must have at least one element");
  }
  return Error::success();
}

Error ManifestParser::checkIOBuffer(const LayerDesc &layer, size_t index,
                                    const std::string &path) const {
  const BufferDesc &buffer = layer.buffers[index];
  const char *what = buffer.kind == BufferKind::Input ? "input" : "output";
  int64_t hidden = -1;
  bool ok = buffer.shape.size() == 2 && buffer.shape[0].isTokens() &&
            buffer.shape[1].isConstant() &&
            !buffer.shape[1].evaluate(1, hidden) && hidden == layer.hiddenSize;
  if (!ok)
    return fail(join(path, "shape"),
                str("the ", what, " buffer must have shape [\"T\", ",
                    layer.hiddenSize, "] (hidden_size)"));
  if (buffer.dtype != layer.dtype)
    return fail(join(path, "dtype"),
                str("the ", what, " buffer must have the layer's dtype ",
                    manifestName(layer.dtype), ", not ",
                    manifestName(buffer.dtype)));
  return Error::success();
}

Error ManifestParser::parseStep(const json &value, const std::string &path,
                                const LayerDesc &layer,
                                const std::map<std::string, size_t> &buffers,
                                PackStep &step) const {
  if (Error e = expectObject(value, path))
    return e;
  std::string bufferName;
  if (Error e = getString(value, path, "buffer", bufferName))
    return e;
  auto it = buffers.find(bufferName);
  if (it == buffers.end())
    return fail(join(path, "buffer"), "unknown buffer '" + bufferName + "'");
  const BufferDesc &buffer = layer.buffers[it->second];
  if (buffer.kind != BufferKind::Weight)
    return fail(join(path, "buffer"),
                "buffer '" + bufferName + "' is not a weight");
  step.buffer = it->second;
  if (Error e = getString(value, path, "tensor", step.tensor))
    return e;
  if (step.tensor.empty() || step.tensor.size() > 1024)
    return fail(join(path, "tensor"), "a tensor name must have 1 to 1024 "
                                      "characters");

  const int64_t big = int64_t(1) << 62;
  for (const auto &field : moe::support::kStridedCopyFields)
    if (Error e = getInt(value, path, field.key, field.least, big,
                         step.*field.member))
      return e;

  int64_t count, srcLast, dstLast, t;
  if (!checkedMul(step.rows, step.cols, count) ||
      !checkedMul(step.rows - 1, step.srcRowStride, srcLast) ||
      !checkedAdd(srcLast, step.srcOffset, srcLast) ||
      !checkedMul(step.cols - 1, step.srcColStride, t) ||
      !checkedAdd(srcLast, t, srcLast))
    return fail(path, "the source view overflows 64 bits");
  if (!checkedMul(step.rows - 1, step.dstRowStride, dstLast) ||
      !checkedAdd(dstLast, step.dstOffset, dstLast) ||
      !checkedMul(step.cols - 1, step.dstColStride, t) ||
      !checkedAdd(dstLast, t, dstLast) || dstLast >= buffer.weightElements)
    return fail(path,
                str("out of bounds: writes past the ", buffer.weightElements,
                    " elements of buffer '", buffer.name, "'"));
  return Error::success();
}

Error ManifestParser::parseKernel(const json &value, const std::string &path,
                                  const LayerDesc &layer,
                                  const std::map<std::string, size_t> &buffers,
                                  KernelDesc &kernel) const {
  if (Error e = expectObject(value, path))
    return e;
  if (Error e = getString(value, path, "symbol", kernel.symbol))
    return e;
  if (!isIdentifier(kernel.symbol))
    return fail(join(path, "symbol"),
                "'" + kernel.symbol + "' is not a C identifier");

  const json *params;
  if (Error e = getArray(value, path, "params", params, 256, false))
    return e;
  for (size_t i = 0; i < params->size(); ++i) {
    std::string paramPath = index(join(path, "params"), i);
    const json &p = (*params)[i];
    if (Error e = expectObject(p, paramPath))
      return e;
    KernelParam param;
    std::string kind;
    if (Error e = getString(p, paramPath, "name", param.name))
      return e;
    if (Error e = getString(p, paramPath, "kind", kind))
      return e;
    if (kind == "buffer") {
      param.kind = KernelParam::Kind::Buffer;
      auto it = buffers.find(param.name);
      if (it == buffers.end())
        return fail(join(paramPath, "name"),
                    "unknown buffer '" + param.name + "'");
      param.buffer = it->second;
    } else if (kind == "tokens") {
      param.kind = KernelParam::Kind::Tokens;
    } else {
      return fail(join(paramPath, "kind"),
                  "unknown kind '" + kind + "' (expected buffer or tokens)");
    }
    kernel.params.push_back(std::move(param));
  }

  const json *block;
  if (Error e = getArray(value, path, "block", block, 3, false))
    return e;
  std::string blockPath = join(path, "block");
  if (block->size() != 3)
    return fail(blockPath, "expected 3 entries");
  const int64_t blockMax[3] = {1024, 1024, 64};
  int64_t threads = 1;
  for (size_t i = 0; i < 3; ++i) {
    int64_t v;
    if (Error e = asInt((*block)[i], index(blockPath, i), 1, blockMax[i], v))
      return e;
    kernel.block[i] = uint32_t(v);
    threads *= v;
  }
  if (threads > ManifestLimits::kMaxBlockThreads)
    return fail(blockPath, str(threads, " threads per block, more than ",
                               ManifestLimits::kMaxBlockThreads));

  const json *grid;
  if (Error e = getArray(value, path, "grid", grid, 3, false))
    return e;
  std::string gridPath = join(path, "grid");
  if (grid->size() != 3)
    return fail(gridPath, "expected 3 entries");
  for (size_t i = 0; i < 3; ++i) {
    std::string dimPath = index(gridPath, i);
    if (Error e = asExpr((*grid)[i], dimPath, kernel.grid[i]))
      return e;
    int64_t lo, hi;
    if (Error e = kernel.grid[i].bounds(1, layer.maxTokens, lo, hi))
      return fail(dimPath, e.message());
    int64_t limit =
        i == 0 ? ManifestLimits::kMaxGridX : ManifestLimits::kMaxGridYZ;
    if (lo < 1 || hi > limit)
      return fail(dimPath, str("\"", kernel.grid[i].text(), "\" may leave [1, ",
                               limit, "] (it spans [", lo, ", ", hi,
                               "] for T in [1, ", layer.maxTokens, "])"));
  }

  const json *smem;
  if (Error e = field(value, path, "dynamic_shared_memory", smem, false))
    return e;
  if (smem) {
    int64_t v;
    if (Error e = asInt(*smem, join(path, "dynamic_shared_memory"), 0,
                        ManifestLimits::kMaxDynamicSharedMemory, v))
      return e;
    kernel.dynamicSharedMemory = uint32_t(v);
  }
  return Error::success();
}

Error ManifestParser::parseLayer(const json &value, const std::string &path,
                                 LayerDesc &layer) const {
  if (Error e = expectObject(value, path))
    return e;
  if (Error e = getString(value, path, "function", layer.function))
    return e;
  if (layer.function.empty())
    return fail(join(path, "function"), "empty function name");

  const json *decoderLayers;
  if (Error e = field(value, path, "decoder_layers", decoderLayers, false))
    return e;
  if (decoderLayers) {
    if (Error e = getArray(value, path, "decoder_layers", decoderLayers,
                           1 << 20, false))
      return e;
    std::set<int64_t> seen;
    for (size_t i = 0; i < decoderLayers->size(); ++i) {
      std::string at = index(join(path, "decoder_layers"), i);
      int64_t v;
      if (Error e = asInt((*decoderLayers)[i], at, 0, 1 << 20, v))
        return e;
      if (!seen.insert(v).second)
        return fail(at, str("decoder layer ", v, " is listed twice"));
      layer.decoderLayers.push_back(v);
    }
  }

  if (Error e = parseDTypeField(value, path, layer.dtype))
    return e;
  if (!isComputeFloat(layer.dtype))
    return fail(join(path, "dtype"), "a layer's dtype must be f32, f16 or "
                                     "bf16");
  if (Error e = getInt(value, path, "hidden_size", 1,
                       ManifestLimits::kMaxHiddenSize, layer.hiddenSize))
    return e;
  if (Error e = getInt(value, path, "max_tokens", 1, ManifestLimits::kMaxTokens,
                       layer.maxTokens))
    return e;

  const json *targets;
  if (Error e = getArray(value, path, "targets", targets, 64, false))
    return e;
  for (size_t i = 0; i < targets->size(); ++i) {
    std::string at = index(join(path, "targets"), i);
    TargetDesc target;
    if (Error e = parseTarget((*targets)[i], at, target))
      return e;
    for (const TargetDesc &other : layer.targets)
      if (other.chip == target.chip)
        return fail(join(at, "chip"), "duplicate chip '" + target.chip + "'");
    layer.targets.push_back(std::move(target));
  }
  std::string hostLibrary;
  if (Error e = getString(value, path, "host_library", hostLibrary, false))
    return e;
  if (!hostLibrary.empty())
    if (Error e =
            resolve(hostLibrary, join(path, "host_library"), layer.hostLibrary))
      return e;

  // Buffers.
  const json *buffers;
  if (Error e = getArray(value, path, "buffers", buffers, 4096, true))
    return e;
  std::map<std::string, size_t> bufferIndex;
  std::vector<size_t> inputs, outputs;
  for (size_t i = 0; i < buffers->size(); ++i) {
    std::string at = index(join(path, "buffers"), i);
    BufferDesc buffer;
    if (Error e = parseBuffer((*buffers)[i], at, layer, buffer))
      return e;
    auto [it, inserted] = bufferIndex.emplace(buffer.name, i);
    if (!inserted)
      return fail(join(at, "name"), str("duplicate buffer '", buffer.name,
                                        "' (also buffers[", it->second, "])"));
    if (buffer.kind == BufferKind::Input)
      inputs.push_back(i);
    if (buffer.kind == BufferKind::Output)
      outputs.push_back(i);
    layer.buffers.push_back(std::move(buffer));
  }
  struct {
    const char *kind;
    const std::vector<size_t> &found;
    size_t *out;
  } ioBuffers[] = {{"input", inputs, &layer.input},
                   {"output", outputs, &layer.output}};
  for (const auto &io : ioBuffers) {
    if (io.found.size() != 1) {
      std::string names;
      for (size_t i : io.found)
        names += (names.empty() ? "'" : ", '") + layer.buffers[i].name + "'";
      return fail(join(path, "buffers"),
                  str("needs exactly one ", io.kind, " buffer, found ",
                      io.found.size(), names.empty() ? "" : " (", names,
                      names.empty() ? "" : ")"));
    }
    *io.out = io.found[0];
    if (Error e = checkIOBuffer(layer, io.found[0],
                                index(join(path, "buffers"), io.found[0])))
      return e;
  }

  // Weight packing.
  const json *steps;
  if (Error e = getArray(value, path, "weight_packing", steps, 1 << 20, false))
    return e;
  std::vector<int64_t> written(layer.buffers.size(), 0);
  for (size_t i = 0; i < steps->size(); ++i) {
    std::string at = index(join(path, "weight_packing"), i);
    PackStep step;
    if (Error e = parseStep((*steps)[i], at, layer, bufferIndex, step))
      return e;
    // rows * cols was checked; the sum stays below 2^62 * 2^20.
    if (!checkedAdd(written[step.buffer], step.rows * step.cols,
                    written[step.buffer]))
      return fail(at, "element count overflows 64 bits");
    layer.packing.push_back(std::move(step));
  }
  for (size_t i = 0; i < layer.buffers.size(); ++i) {
    const BufferDesc &buffer = layer.buffers[i];
    if (buffer.kind == BufferKind::Weight &&
        written[i] != buffer.weightElements)
      return fail(join(path, "weight_packing"),
                  str("the steps write ", written[i], " elements of weight '",
                      buffer.name, "', which has ", buffer.weightElements,
                      " (each must be written exactly once)"));
  }

  // Kernels and launches.
  if (Error e = parseKernelsAndLaunches(value, path, layer, bufferIndex,
                                        layer.kernels, layer.launches))
    return e;

  const json *cpu;
  if (Error e = field(value, path, "cpu", cpu, false))
    return e;
  if (cpu) {
    layer.cpuForm = std::make_shared<CpuFormDesc>();
    if (Error e = parseCpuForm(*cpu, join(path, "cpu"), layer, *layer.cpuForm))
      return e;
  }
  return Error::success();
}

Error ManifestParser::parseKernelsAndLaunches(
    const json &value, const std::string &path, const LayerDesc &layer,
    const std::map<std::string, size_t> &bufferIndex,
    std::vector<KernelDesc> &kernelsOut,
    std::vector<size_t> &launchesOut) const {
  const json *kernels;
  if (Error e = getArray(value, path, "kernels", kernels, 4096, true))
    return e;
  std::map<std::string, size_t> kernelIndex;
  for (size_t i = 0; i < kernels->size(); ++i) {
    std::string at = index(join(path, "kernels"), i);
    KernelDesc kernel;
    if (Error e = parseKernel((*kernels)[i], at, layer, bufferIndex, kernel))
      return e;
    auto [it, inserted] = kernelIndex.emplace(kernel.symbol, i);
    if (!inserted)
      return fail(join(at, "symbol"),
                  str("duplicate kernel '", kernel.symbol, "' (also kernels[",
                      it->second, "])"));
    kernelsOut.push_back(std::move(kernel));
  }
  const json *launches;
  if (Error e = getArray(value, path, "launches", launches, 1 << 16, true))
    return e;
  for (size_t i = 0; i < launches->size(); ++i) {
    std::string at = index(join(path, "launches"), i);
    std::string symbol;
    if (Error e = asString((*launches)[i], at, symbol))
      return e;
    auto it = kernelIndex.find(symbol);
    if (it == kernelIndex.end())
      return fail(at, "unknown kernel '" + symbol + "'");
    launchesOut.push_back(it->second);
  }
  return Error::success();
}

Error ManifestParser::parseCpuForm(const json &value, const std::string &path,
                                   const LayerDesc &layer,
                                   CpuFormDesc &form) const {
  if (Error e = expectObject(value, path))
    return e;
  std::string library;
  if (Error e = getString(value, path, "library", library))
    return e;
  if (Error e = resolve(library, join(path, "library"), form.library))
    return e;
  if (Error e = getString(value, path, "isa", form.isa))
    return e;
  if (form.isa.empty() || form.isa.size() > 64)
    return fail(join(path, "isa"), "expected 1 to 64 characters");
  const json *features;
  if (Error e = getArray(value, path, "features", features, 64, false))
    return e;
  for (size_t i = 0; i < features->size(); ++i) {
    std::string feature;
    if (Error e =
            asString((*features)[i], index(join(path, "features"), i), feature))
      return e;
    form.features.push_back(feature);
  }
  if (Error e = getInt(value, path, "threads", 0, 256, form.threads))
    return e;

  // The layer's input, weights and output (packing steps renumbered), then
  // this form's workspaces.
  std::map<std::string, size_t> bufferIndex;
  std::vector<size_t> renumbered(layer.buffers.size(), 0);
  for (size_t i = 0; i < layer.buffers.size(); ++i) {
    if (layer.buffers[i].kind == BufferKind::Workspace)
      continue;
    renumbered[i] = form.buffers.size();
    bufferIndex.emplace(layer.buffers[i].name, form.buffers.size());
    form.buffers.push_back(layer.buffers[i]);
  }
  form.input = renumbered[layer.input];
  form.output = renumbered[layer.output];
  form.packing = layer.packing;
  for (PackStep &step : form.packing)
    step.buffer = renumbered[step.buffer];
  const json *workspaces;
  if (Error e = getArray(value, path, "workspaces", workspaces, 4096, false))
    return e;
  for (size_t i = 0; i < workspaces->size(); ++i) {
    std::string at = index(join(path, "workspaces"), i);
    BufferDesc buffer;
    if (Error e = parseBuffer((*workspaces)[i], at, layer, buffer))
      return e;
    if (buffer.kind != BufferKind::Workspace)
      return fail(join(at, "kind"), "the CPU form lists only its workspaces "
                                    "(it shares the layer's other buffers)");
    if (!bufferIndex.emplace(buffer.name, form.buffers.size()).second)
      return fail(join(at, "name"),
                  str("duplicate buffer '", buffer.name, "'"));
    form.buffers.push_back(std::move(buffer));
  }

  return parseKernelsAndLaunches(value, path, layer, bufferIndex, form.kernels,
                                 form.launches);
}

} // namespace

Error parseManifest(const std::string &text, const std::string &name,
                    const std::string &directory, Manifest &out) {
  // A manifest nests a few levels; a deep one is hostile, and a key given
  // twice would leave which one counts to chance.
  moe::support::JsonParseResult parsed = moe::support::parseJson(
      text.data(), text.data() + text.size(), /*maxDepth=*/32,
      /*rejectDuplicateKeys=*/true);
  if (parsed.nulByte)
    return Error(MOERT_ERROR_MANIFEST,
                 str(name, ": NUL byte at offset ", *parsed.nulByte));
  if (parsed.tooDeep)
    return Error(MOERT_ERROR_MANIFEST,
                 name + ": objects and arrays nest deeper than 32 levels");
  if (parsed.duplicateKey)
    return Error(MOERT_ERROR_MANIFEST, name + ": the key '" +
                                           *parsed.duplicateKey +
                                           "' is given twice");
  if (!parsed.ok())
    return Error(MOERT_ERROR_MANIFEST, name + ": " + parsed.syntaxError());
  return ManifestParser(name, directory).parse(parsed.value, out);
}

Error loadManifest(const std::string &path, Manifest &out) {
  std::string text;
  if (Error e = readFile(path, size_t(64) << 20, text))
    return e;
  size_t slash = path.find_last_of('/');
  std::string directory = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  return parseManifest(text, path, directory, out);
}

} // namespace moert
