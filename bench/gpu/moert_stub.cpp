// Linked instead of moert_adapter.cpp + libmoert when runtime/ is absent or
// fails to build: the moert mode then reports why instead of a number.
#include "moert_adapter.h"

#include <stdexcept>

namespace moebench {

static const char *kWhy =
    "moe_gpu_bench was built without the moert runtime "
    "(runtime/ absent or failed to build; see build.sh's output)";
bool moertAvailable() { return false; }
MoertLayer *moertLoad(const std::string &, const std::string &, int, int64_t) {
  throw std::runtime_error(kWhy);
}
void moertRun(MoertLayer *, const void *, void *, int64_t, cudaStream_t) {
  throw std::runtime_error(kWhy);
}
void moertFree(MoertLayer *) {}
std::string moertDescribe(MoertLayer *) { return ""; }
int64_t moertHiddenSize(MoertLayer *) { return 0; }

} // namespace moebench
