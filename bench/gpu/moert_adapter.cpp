// The single place that speaks the moert C API (runtime/include/moert/moert.h;
// see moert_adapter.h). Argument types (handle, pointer or CUdeviceptr,
// stream, token integer) are read off the declarations, so a change of those
// needs no edit here; a renamed function needs one.
#include "moert_adapter.h"

#include "moert/moert.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

namespace moebench {
namespace {

template <typename F> struct FnArgs;
template <typename R, typename... A> struct FnArgs<R (*)(A...)> {
  template <size_t I> using arg = std::tuple_element_t<I, std::tuple<A...>>;
};
template <auto F, size_t I>
using ArgT = typename FnArgs<decltype(F)>::template arg<I>;

// Converts a pointer to whatever the API takes: a pointer or an integer
// device address (CUdeviceptr).
template <typename To, typename From> To toArg(From *p) {
  if constexpr (std::is_pointer_v<To>)
    return reinterpret_cast<To>(const_cast<std::remove_const_t<From> *>(p));
  else
    return static_cast<To>(reinterpret_cast<uintptr_t>(p));
}

// moert_layer_load(manifest, function, backend, &layer): the handle type is
// what its last parameter points to.
using Handle = std::remove_pointer_t<ArgT<&moert_layer_load, 3>>;

[[noreturn]] void fail(const char *what) {
  const char *e = moert_last_error();
  throw std::runtime_error(std::string(what) + ": " +
                           (e && *e ? e : "(no message)"));
}

} // namespace

struct MoertLayer {
  Handle handle{};
};

bool moertAvailable() { return true; }

std::string moertDescribe(MoertLayer *l) {
  auto str = [](const char *s) { return std::string(s ? s : "?"); };
  return str(moert_layer_function(l->handle)) + " " +
         str(moert_layer_dtype(l->handle)) +
         " H=" + std::to_string(moert_layer_hidden_size(l->handle)) + " on " +
         str(moert_layer_target(l->handle)) + " (" +
         str(moert_layer_target_file(l->handle)) + "), " +
         std::to_string(moert_layer_num_launches(l->handle)) + " launches";
}

int64_t moertHiddenSize(MoertLayer *l) {
  return moert_layer_hidden_size(l->handle);
}

MoertLayer *moertLoad(const std::string &manifest, const std::string &weights,
                      int layerIndex, int64_t maxTokens) {
  auto *l = new MoertLayer;
  // NULL function: the manifest's only (first) layer.
  if (moert_layer_load(manifest.c_str(), nullptr, MOERT_BACKEND_CUDA,
                       &l->handle) != MOERT_SUCCESS) {
    delete l;
    fail("moert_layer_load");
  }
  if (moert_layer_load_weights(l->handle, weights.c_str(), layerIndex) !=
      MOERT_SUCCESS) {
    moertFree(l);
    fail("moert_layer_load_weights");
  }
  // The harness feeds and reads bf16 activations.
  if (const char *dt = moert_layer_dtype(l->handle);
      !dt || std::string(dt) != "bf16") {
    moertFree(l);
    throw std::runtime_error(manifest + ": layer dtype " + (dt ? dt : "?") +
                             ", the harness needs bf16");
  }
  if (int64_t missing = moert_layer_unpacked_weight_elements(l->handle)) {
    moertFree(l);
    throw std::runtime_error(
        weights + " left " + std::to_string(missing) +
        " weight elements unpacked (wrong layer index or file?)");
  }
  // Reserved workspaces keep allocation out of moert_layer_run (and out of a
  // CUDA graph capture of it).
  if (moert_layer_reserve(l->handle, static_cast<ArgT<&moert_layer_reserve, 1>>(
                                         maxTokens)) != MOERT_SUCCESS) {
    moertFree(l);
    fail("moert_layer_reserve");
  }
  return l;
}

void moertRun(MoertLayer *l, const void *dInput, void *dOutput, int64_t tokens,
              cudaStream_t stream) {
  using InT = ArgT<&moert_layer_run, 1>;
  using OutT = ArgT<&moert_layer_run, 2>;
  using TokT = ArgT<&moert_layer_run, 3>;
  using StreamT = ArgT<&moert_layer_run, 4>;
  if (moert_layer_run(l->handle, toArg<InT>(dInput), toArg<OutT>(dOutput),
                      static_cast<TokT>(tokens),
                      reinterpret_cast<StreamT>(stream)) != MOERT_SUCCESS)
    fail("moert_layer_run");
}

void moertFree(MoertLayer *l) {
  if (!l)
    return;
  moert_layer_destroy(l->handle);
  delete l;
}

} // namespace moebench
