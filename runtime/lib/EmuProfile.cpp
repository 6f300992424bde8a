//===- EmuProfile.cpp - What a launch did to memory, as a profiler counts -===//

#include "EmuProfile.h"

#include "moe-support/Json.h"

#include <algorithm>

namespace moert {

namespace {
constexpr uint64_t kSector = 32;
constexpr uint64_t kBankWord = 4;
constexpr uint64_t kBanks = 32;
} // namespace

LaunchProfiler::LaunchProfiler(std::string name, std::array<uint32_t, 3> grid,
                               std::array<uint32_t, 3> block,
                               uint32_t sharedBytes) {
  profile_.name = std::move(name);
  profile_.grid = grid;
  profile_.block = block;
  profile_.dynamicSharedMemory = sharedBytes;
}

void LaunchProfiler::global(uint32_t slot, uint32_t warp, uint32_t site,
                            uint32_t occurrence, uint64_t address,
                            uint64_t bytes, bool read, bool write,
                            bool weight) {
  if (bytes == 0)
    return;
  BlockState &b = blocks_[slot];
  b.working |= weight && read;
  if (read && write)
    ++profile_.atomics;
  GlobalRequest &request = b.global[{warp, site, occurrence}];
  request.load = read && !write;
  for (uint64_t w = address / kBankWord; w <= (address + bytes - 1) / kBankWord;
       ++w)
    request.words.insert(w);
  for (uint64_t s = address / kSector; s <= (address + bytes - 1) / kSector;
       ++s) {
    request.sectors.insert(s);
    launchSectors_.insert(s);
  }
  profile_.dramBytes = kSector * launchSectors_.size();
}

void LaunchProfiler::shared(uint32_t slot, uint32_t warp, uint32_t site,
                            uint32_t occurrence, uint64_t offset,
                            uint64_t bytes) {
  if (bytes == 0)
    return;
  auto &banks = blocks_[slot].shared[{warp, site, occurrence}];
  for (uint64_t w = offset / kBankWord; w <= (offset + bytes - 1) / kBankWord;
       ++w)
    banks[w % kBanks].insert(w);
}

void LaunchProfiler::endBlock(uint32_t slot) {
  auto it = blocks_.find(slot);
  if (it == blocks_.end())
    return;
  BlockState &b = it->second;
  profile_.workingBlocks += b.working;
  for (const auto &[key, request] : b.global) {
    ++profile_.globalRequests;
    profile_.globalSectors += request.sectors.size();
    uint64_t requested = kBankWord * request.words.size();
    profile_.requestedGlobalBytes += requested;
    if (request.load) {
      profile_.loadSectors += request.sectors.size();
      profile_.requestedLoadBytes += requested;
    }
  }
  for (const auto &[key, banks] : b.shared) {
    ++profile_.sharedRequests;
    size_t most = 0, words = 0;
    for (const auto &bank : banks) {
      most = std::max(most, bank.size());
      words += bank.size();
    }
    size_t best = (words + kBanks - 1) / kBanks;
    profile_.sharedBankConflicts += most - best;
  }
  blocks_.erase(it);
}

std::string profileJson(const std::vector<KernelProfile> &kernels) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const KernelProfile &k : kernels) {
    nlohmann::ordered_json j;
    j["name"] = k.name;
    j["grid"] = k.grid;
    j["block"] = k.block;
    j["dynamic_shared_memory"] = k.dynamicSharedMemory;
    j["working_blocks"] = k.workingBlocks;
    j["dram_bytes"] = k.dramBytes;
    j["requested_global_bytes"] = k.requestedGlobalBytes;
    j["global_requests"] = k.globalRequests;
    j["global_sectors"] = k.globalSectors;
    j["global_load_efficiency"] = k.loadSectors ? double(k.requestedLoadBytes) /
                                                      double(32 * k.loadSectors)
                                                : 1.0;
    j["shared_requests"] = k.sharedRequests;
    j["shared_bank_conflicts"] = k.sharedBankConflicts;
    j["mma_count"] = k.mmaCount;
    j["barriers"] = k.barriers;
    j["atomics"] = k.atomics;
    list.push_back(std::move(j));
  }
  nlohmann::ordered_json root;
  root["kernels"] = std::move(list);
  return root.dump(2);
}

} // namespace moert
