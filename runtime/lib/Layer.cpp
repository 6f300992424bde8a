//===- Layer.cpp - One loaded MoE layer: weights, workspaces, runs --------===//

#include "Layer.h"

#include <algorithm>
#include <cstdlib>
#include <set>

namespace moert {

Error Layer::load(const std::string &manifestPath, const char *function,
                  moert_backend backend, const EmulatorChoice &emulator,
                  std::unique_ptr<Layer> &out) {
  Manifest manifest;
  if (Error e = loadManifest(manifestPath, manifest))
    return e;
  size_t chosen = 0;
  if (function) {
    std::string names;
    chosen = manifest.layers.size();
    for (size_t i = 0; i < manifest.layers.size(); ++i) {
      if (manifest.layers[i].function == function)
        chosen = i;
      names += (i ? ", '" : "'") + manifest.layers[i].function + "'";
    }
    if (chosen == manifest.layers.size())
      return makeError(MOERT_ERROR_INVALID_ARGUMENT, manifestPath,
                       ": no layer function '", function, "' (it has ", names,
                       ")");
  }
  std::unique_ptr<Layer> layer(new Layer());
  layer->desc_ = std::move(manifest.layers[chosen]);
  Error created = Error::success();
  if (backend == MOERT_BACKEND_CPU || backend == MOERT_BACKEND_CPU_PORTABLE) {
    // The CPU form replaces the layer's workspaces, kernels and launches;
    // the input, weights and packing stay.
    const CpuFormDesc *form = layer->desc_.cpuForm.get();
    if (backend == MOERT_BACKEND_CPU && form && hostRunsCpuForm(*form)) {
      LayerDesc &d = layer->desc_;
      d.buffers = form->buffers;
      d.packing = form->packing;
      d.kernels = form->kernels;
      d.launches = form->launches;
      d.input = form->input;
      d.output = form->output;
      created =
          createCpuBackend(d, form->library, form->name(), layer->backend_);
    } else if (backend == MOERT_BACKEND_CPU && form &&
               layer->desc_.hostLibrary.empty()) {
      created = makeError(MOERT_ERROR_BACKEND, "layer '", layer->desc_.function,
                          "': this CPU lacks ", form->name(),
                          ", the CPU form's instruction set, "
                          "and the layer has no host_library");
    } else {
      created = createCpuBackend(layer->desc_, layer->desc_.hostLibrary, "host",
                                 layer->backend_);
    }
  } else if (backend == MOERT_BACKEND_CUDA)
    created = createCudaBackend(layer->desc_, layer->backend_);
  else if (backend == MOERT_BACKEND_CUDA_EMU)
    created = createEmulatorBackend(layer->desc_, emulator.chip,
                                    emulator.options, layer->backend_);
  else
    created = makeError(MOERT_ERROR_INVALID_ARGUMENT, "unknown backend ",
                        int(backend));
  if (created)
    return created;
  if (Error e = layer->init())
    return e;
  out = std::move(layer);
  return Error::success();
}

Error Layer::init() {
  size_t n = desc_.buffers.size();
  weights_.resize(n);
  for (size_t i = 0; i < n; ++i)
    if (desc_.buffers[i].kind == BufferKind::Weight)
      weights_[i].reset(new Weight());
  workspaces_.assign(n, 0);
  capacities_.assign(n, 0);
  stepDone_.assign(desc_.packing.size(), false);
  for (const PackStep &step : desc_.packing)
    if (std::find(tensors_.begin(), tensors_.end(), step.tensor) ==
        tensors_.end())
      tensors_.push_back(step.tensor);
  args_.assign(n + 1, Arg{nullptr});
  for (const KernelDesc &kernel : desc_.kernels) {
    std::vector<void *> params;
    for (const KernelParam &param : kernel.params)
      params.push_back(param.kind == KernelParam::Kind::Tokens
                           ? &args_[n]
                           : &args_[param.buffer]);
    params_.push_back(std::move(params));
  }
  return Error::success();
}

Layer::~Layer() {
  if (!backend_)
    return;
  (void)backend_->enter();
  for (auto &weight : weights_) {
    if (!weight)
      continue;
    if (weight->address)
      backend_->release(weight->address);
    std::free(weight->staging);
  }
  for (uint64_t address : workspaces_)
    if (address)
      backend_->release(address);
}

int64_t Layer::workspaceBytes() const {
  int64_t total = 0;
  for (int64_t bytes : capacities_)
    total += bytes;
  return total;
}

int64_t Layer::unpackedWeightElements() const {
  int64_t missing = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (!weights_[i])
      continue;
    const Weight &w = *weights_[i];
    int64_t elements = desc_.buffers[i].weightElements;
    missing += w.started ? elements - w.coverage.written() : elements;
  }
  return missing;
}

/// The tensor name with every "{L}" replaced by the decoder layer.
static std::string tensorName(const std::string &pattern, int64_t layer) {
  std::string out;
  std::string index = std::to_string(layer);
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.compare(i, 3, "{L}") == 0) {
      out += index;
      i += 3;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

void Layer::restartWeight(size_t buffer) {
  Weight &w = *weights_[buffer];
  w.started = false;
  w.ready = false;
  for (size_t i = 0; i < desc_.packing.size(); ++i)
    if (desc_.packing[i].buffer == buffer)
      stepDone_[i] = false;
}

Error Layer::startWeight(size_t buffer) {
  Weight &w = *weights_[buffer];
  const BufferDesc &desc = desc_.buffers[buffer];
  size_t bytes = size_t(desc.weightElements) * elementSize(desc.dtype);
  if (backend_->hostAddressable()) {
    if (!w.address)
      if (Error e = backend_->allocate(bytes, w.address))
        return e.withPrefix("weight '" + desc.name + "'");
  } else if (!w.staging) {
    w.staging = static_cast<unsigned char *>(std::malloc(bytes));
    if (!w.staging)
      return makeError(MOERT_ERROR_OUT_OF_MEMORY, "weight '", desc.name,
                       "': cannot allocate ", bytes, " bytes of host staging");
  }
  if (Error e = w.coverage.reset(desc.weightElements))
    return e;
  w.started = true;
  w.ready = false;
  return Error::success();
}

Error Layer::finishWeight(size_t buffer) {
  Weight &w = *weights_[buffer];
  if (!w.started || !w.coverage.complete())
    return Error::success();
  const BufferDesc &desc = desc_.buffers[buffer];
  if (!backend_->hostAddressable()) {
    size_t bytes = size_t(desc.weightElements) * elementSize(desc.dtype);
    if (!w.address)
      if (Error e = backend_->allocate(bytes, w.address))
        return e.withPrefix("weight '" + desc.name + "'");
    if (Error e = backend_->upload(w.address, w.staging, bytes))
      return e.withPrefix("weight '" + desc.name + "'");
    std::free(w.staging);
    w.staging = nullptr;
  }
  w.coverage.release();
  w.ready = true;
  return Error::success();
}

Error Layer::loadWeights(const std::string &path, int64_t decoderLayer) {
  if (decoderLayer < 0)
    return makeError(MOERT_ERROR_INVALID_ARGUMENT, "decoder layer ",
                     decoderLayer, " is negative");
  const std::vector<int64_t> &allowed = desc_.decoderLayers;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(),
                                    decoderLayer) == allowed.end()) {
    std::string list;
    for (int64_t l : allowed)
      list += (list.empty() ? "" : ", ") + std::to_string(l);
    return makeError(MOERT_ERROR_INVALID_ARGUMENT, "decoder layer ",
                     decoderLayer, " is not one of ", desc_.function,
                     "'s decoder_layers (", list, ")");
  }
  if (Error e = backend_->enter())
    return e;
  moe::support::SafeTensorsError openError;
  std::unique_ptr<moe::support::SafeTensorsFile> file =
      moe::support::SafeTensorsFile::open(path, openError);
  if (!file)
    return Error(openError.kind == moe::support::SafeTensorsError::Io
                     ? MOERT_ERROR_IO
                     : MOERT_ERROR_WEIGHTS,
                 openError.message);

  // Check every step this file feeds before writing anything.
  std::vector<std::pair<size_t, const moe::support::TensorInfo *>> steps;
  std::set<size_t> touched;
  for (size_t i = 0; i < desc_.packing.size(); ++i) {
    const PackStep &step = desc_.packing[i];
    std::string name = tensorName(step.tensor, decoderLayer);
    const moe::support::TensorInfo *tensor = file->find(name);
    if (!tensor)
      continue;
    if (Error e = checkPackStep(step, *tensor, desc_.buffers[step.buffer].dtype,
                                name))
      return e.withPrefix(
          str(path, " (", desc_.function, " weight_packing[", i, "])"));
    steps.emplace_back(i, tensor);
    touched.insert(step.buffer);
  }

  if (decoderLayer != decoderLayer_) {
    for (size_t b = 0; b < weights_.size(); ++b)
      if (weights_[b])
        restartWeight(b);
    decoderLayer_ = decoderLayer;
  }
  for (size_t b : touched) {
    if (weights_[b]->ready)
      restartWeight(b);
    if (!weights_[b]->started)
      if (Error e = startWeight(b))
        return e;
  }
  for (const auto &[i, tensor] : steps) {
    const PackStep &step = desc_.packing[i];
    Weight &w = *weights_[step.buffer];
    void *target = w.staging ? static_cast<void *>(w.staging)
                             : reinterpret_cast<void *>(uintptr_t(w.address));
    runPackStep(step, *tensor, target, desc_.buffers[step.buffer].dtype,
                w.coverage);
    stepDone_[i] = true;
  }
  for (size_t b : touched)
    if (Error e = finishWeight(b))
      return e;
  return Error::success();
}

Error Layer::checkWeightsReady() const {
  for (size_t b = 0; b < weights_.size(); ++b) {
    if (!weights_[b] || weights_[b]->ready)
      continue;
    const Weight &w = *weights_[b];
    const BufferDesc &buffer = desc_.buffers[b];
    int64_t written = w.started ? w.coverage.written() : 0;
    std::string why;
    for (size_t i = 0; i < desc_.packing.size() && why.empty(); ++i)
      if (desc_.packing[i].buffer == b && !stepDone_[i])
        why = "tensor '" +
              (decoderLayer_ >= 0
                   ? tensorName(desc_.packing[i].tensor, decoderLayer_)
                   : desc_.packing[i].tensor) +
              "' was in no file given to moert_layer_load_weights";
    if (why.empty())
      why = str("element ", w.coverage.firstUnwritten(),
                " is written by no packing step");
    return makeError(MOERT_ERROR_WEIGHTS, "weight '", buffer.name,
                     "' is not fully packed: ", buffer.weightElements - written,
                     " of ", buffer.weightElements, " elements never written; ",
                     why);
  }
  return Error::success();
}

Error Layer::checkTokens(int64_t tokens) const {
  if (tokens < 1)
    return makeError(MOERT_ERROR_INVALID_ARGUMENT, "token count ", tokens,
                     " is below 1");
  if (tokens > desc_.maxTokens)
    return makeError(MOERT_ERROR_TOO_MANY_TOKENS, "token count ", tokens,
                     " exceeds max_tokens ", desc_.maxTokens, " of ",
                     desc_.function);
  return Error::success();
}

Error Layer::reserve(int64_t tokens) {
  if (Error e = checkTokens(tokens))
    return e;
  if (Error e = backend_->enter())
    return e;
  for (size_t b = 0; b < desc_.buffers.size(); ++b) {
    const BufferDesc &buffer = desc_.buffers[b];
    if (buffer.kind != BufferKind::Workspace)
      continue;
    int64_t bytes;
    if (Error e = buffer.maxBytes(tokens, bytes))
      return e;
    if (bytes <= capacities_[b])
      continue;
    if (workspaces_[b])
      backend_->release(workspaces_[b]);
    workspaces_[b] = 0;
    capacities_[b] = 0;
    if (Error e = backend_->allocate(size_t(bytes), workspaces_[b]))
      return e.withPrefix("workspace '" + buffer.name + "'");
    capacities_[b] = bytes;
  }
  reserved_ = std::max(reserved_, tokens);
  return Error::success();
}

void Layer::setBufferArg(size_t buffer, uint64_t address) {
  if (backend_->hostAddressable())
    args_[buffer].pointer = reinterpret_cast<void *>(uintptr_t(address));
  else
    args_[buffer].address = address;
}

Error Layer::run(const void *input, void *output, int64_t tokens,
                 void *stream) {
  if (!input || !output)
    return makeError(MOERT_ERROR_INVALID_ARGUMENT, "input or output is NULL");
  // The expert kernels copy the input's rows 16 bytes at a time (cp.async
  // on the GPU), from 16-byte aligned row starts.
  if (reinterpret_cast<uintptr_t>(input) % 16 != 0)
    return makeError(MOERT_ERROR_INVALID_ARGUMENT,
                     "input is not 16-byte aligned");
  if (Error e = checkTokens(tokens))
    return e;
  if (Error e = checkWeightsReady())
    return e;
  if (tokens > reserved_)
    if (Error e = reserve(tokens))
      return e;
  if (Error e = backend_->enter())
    return e;

  for (size_t b = 0; b < desc_.buffers.size(); ++b) {
    const BufferDesc &buffer = desc_.buffers[b];
    switch (buffer.kind) {
    case BufferKind::Input:
      setBufferArg(b, reinterpret_cast<uintptr_t>(input));
      break;
    case BufferKind::Output:
      setBufferArg(b, reinterpret_cast<uintptr_t>(output));
      break;
    case BufferKind::Weight:
      setBufferArg(b, weights_[b]->address);
      break;
    case BufferKind::Workspace:
      setBufferArg(b, workspaces_[b]);
      break;
    }
  }
  args_.back().tokens = tokens;

  for (size_t b = 0; b < desc_.buffers.size(); ++b) {
    const BufferDesc &buffer = desc_.buffers[b];
    if (!buffer.zeroInit)
      continue;
    int64_t bytes;
    if (Error e = buffer.bytesAt(tokens, bytes))
      return e;
    uint64_t address = buffer.kind == BufferKind::Output
                           ? reinterpret_cast<uintptr_t>(output)
                           : workspaces_[b];
    if (buffer.kind == BufferKind::Workspace && bytes > capacities_[b])
      return makeError(MOERT_ERROR_MANIFEST, "workspace '", buffer.name,
                       "' needs ", bytes, " bytes at T=", tokens,
                       " but its bound was ", capacities_[b]);
    if (bytes > 0)
      if (Error e = backend_->zero(address, size_t(bytes), stream))
        return e;
  }

  for (size_t k : desc_.launches) {
    const KernelDesc &kernel = desc_.kernels[k];
    std::array<uint32_t, 3> grid;
    for (size_t d = 0; d < 3; ++d) {
      int64_t v;
      if (Error e = kernel.grid[d].evaluate(tokens, v))
        return e.withPrefix("kernel '" + kernel.symbol + "' grid");
      int64_t limit =
          d == 0 ? ManifestLimits::kMaxGridX : ManifestLimits::kMaxGridYZ;
      if (v < 1 || v > limit)
        return makeError(MOERT_ERROR_MANIFEST, "kernel '", kernel.symbol,
                         "' grid[", d, "] is ", v, " at T=", tokens);
      grid[d] = uint32_t(v);
    }
    std::vector<EmulatedBuffer> extents;
    for (const KernelParam &param : kernel.params) {
      if (param.kind != KernelParam::Kind::Buffer || !backend_->checksBuffers())
        continue;
      const BufferDesc &buffer = desc_.buffers[param.buffer];
      int64_t bytes;
      if (Error e = buffer.bytesAt(tokens, bytes))
        return e;
      const Arg &arg = args_[param.buffer];
      extents.push_back(
          {backend_->hostAddressable()
               ? uint64_t(reinterpret_cast<uintptr_t>(arg.pointer))
               : arg.address,
           uint64_t(bytes), buffer.name, buffer.kind == BufferKind::Weight});
    }
    if (Error e = backend_->launch(k, grid, params_[k].data(), extents, stream))
      return e.withPrefix("kernel '" + kernel.symbol + "'");
  }
  return Error::success();
}

} // namespace moert
