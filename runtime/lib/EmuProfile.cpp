//===- EmuProfile.cpp - What a launch did to memory, as a profiler counts -===//

#include "EmuProfile.h"

#include "moe-support/Json.h"

#include <algorithm>
#include <cmath>

namespace moert {

namespace {
constexpr uint64_t kSector = 32;
constexpr uint64_t kBankWord = 4;
constexpr uint64_t kBanks = 32;
/// Request sectors and words are (buffer << kBufferShift) | index.
constexpr unsigned kBufferShift = 44;
/// A sector's marks (LaunchProfiler::BufferUse): columns past the last
/// mark share it, which only makes extrapolation count their sectors once.
constexpr uint16_t kUntouched = 0, kSeveralColumns = 0xFFFF;
} // namespace

LaunchProfiler::LaunchProfiler(std::string name, std::array<uint32_t, 3> grid,
                               std::array<uint32_t, 3> block,
                               uint32_t sharedBytes,
                               const std::vector<uint64_t> &bufferBytes) {
  profile_.name = std::move(name);
  profile_.grid = grid;
  profile_.block = block;
  profile_.dynamicSharedMemory = sharedBytes;
  for (uint64_t bytes : bufferBytes)
    buffers_.push_back({std::vector<uint16_t>(size_t(bytes / kSector + 2)),
                        (bytes + kSector - 1) / kSector});
}

void LaunchProfiler::global(uint32_t slot, uint32_t warp, uint32_t site,
                            uint32_t occurrence, size_t buffer, uint64_t offset,
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
  request.buffer = buffer;
  // Sectors and words by buffer and offset, as if each buffer started
  // 256-byte aligned as cudaMalloc's do: the host's input and output may
  // not be, and the counts must not depend on where the host put them.
  uint64_t tag = uint64_t(buffer) << kBufferShift;
  for (uint64_t w = offset / kBankWord; w <= (offset + bytes - 1) / kBankWord;
       ++w)
    request.words.push_back(tag | w);
  BufferUse &use = buffers_[buffer];
  uint16_t column =
      uint16_t(std::min<uint32_t>(b.column + 1, kSeveralColumns - 1));
  for (uint64_t s = offset / kSector; s <= (offset + bytes - 1) / kSector;
       ++s) {
    request.sectors.push_back(tag | s);
    uint16_t &mark = use.columns[s];
    if (mark == kUntouched) {
      mark = column;
      ++use.touched;
      ++touchedCount_;
    } else if (mark != column) {
      mark = kSeveralColumns;
    }
  }
}

void LaunchProfiler::startBlock(uint32_t slot, uint32_t column) {
  blocks_[slot].column = column;
}

void LaunchProfiler::shared(uint32_t slot, uint32_t warp, uint32_t site,
                            uint32_t occurrence, uint64_t offset,
                            uint64_t bytes) {
  if (bytes == 0)
    return;
  std::vector<uint32_t> &words = blocks_[slot].shared[{warp, site, occurrence}];
  for (uint64_t w = offset / kBankWord; w <= (offset + bytes - 1) / kBankWord;
       ++w)
    words.push_back(uint32_t(w));
}

namespace {
template <typename T> size_t distinct(std::vector<T> &v) {
  std::sort(v.begin(), v.end());
  return size_t(std::unique(v.begin(), v.end()) - v.begin());
}
} // namespace

void LaunchProfiler::endBlock(uint32_t slot) {
  auto it = blocks_.find(slot);
  if (it == blocks_.end())
    return;
  BlockState &b = it->second;
  profile_.workingBlocks += b.working;
  for (auto &[key, request] : b.global) {
    ++profile_.globalRequests;
    size_t sectors = distinct(request.sectors);
    uint64_t requested = kBankWord * distinct(request.words);
    profile_.globalSectors += sectors;
    profile_.requestedGlobalBytes += requested;
    if (request.load) {
      profile_.loadSectors += sectors;
      profile_.requestedLoadBytes += requested;
      SiteCounts &site = loadSites_[{key.site, request.buffer}];
      ++site.requests;
      site.sectors += sectors;
      site.requestedBytes += requested;
    }
  }
  for (auto &[key, words] : b.shared) {
    ++profile_.sharedRequests;
    size_t n = distinct(words);
    size_t perBank[kBanks] = {};
    size_t most = 0;
    for (size_t k = 0; k < n; ++k)
      most = std::max(most, ++perBank[words[k] % kBanks]);
    size_t best = (n + kBanks - 1) / kBanks;
    profile_.sharedBankConflicts += most - best;
  }
  blocks_.erase(it);
  profile_.dramBytes = kSector * touchedCount_;
}

void LaunchProfiler::extrapolate(uint32_t columnsRun) {
  if (columnsRun == 0 || columnsRun >= profile_.grid[1])
    return;
  profile_.columnsRun = columnsRun;
  double factor = double(profile_.grid[1]) / columnsRun;
  auto scale = [&](uint64_t &count) {
    count = uint64_t(std::llround(double(count) * factor));
  };
  for (uint64_t *count :
       {&profile_.workingBlocks, &profile_.requestedGlobalBytes,
        &profile_.globalRequests, &profile_.globalSectors,
        &profile_.requestedLoadBytes, &profile_.loadSectors,
        &profile_.sharedRequests, &profile_.sharedBankConflicts,
        &profile_.mmaCount, &profile_.fp8MmaCount, &profile_.barriers,
        &profile_.atomics})
    scale(*count);
  for (auto &[key, site] : loadSites_)
    for (uint64_t *count :
         {&site.requests, &site.sectors, &site.requestedBytes})
      scale(*count);
  profile_.dramBytes = 0;
  for (const BufferUse &use : buffers_) {
    uint64_t several = uint64_t(
        std::count(use.columns.begin(), use.columns.end(), kSeveralColumns));
    double once = double(use.touched - several);
    profile_.dramBytes +=
        kSector *
        std::min<uint64_t>(use.sectors,
                           several + uint64_t(std::llround(once * factor)));
  }
}

void LaunchProfiler::reportLoadSites(
    const std::function<std::string(uint32_t)> &siteName,
    const std::vector<std::string> &bufferNames) {
  auto unused = [](const LoadSite &s) {
    return int64_t(kSector * s.sectors) - int64_t(s.requestedBytes);
  };
  std::vector<LoadSite> sites;
  for (const auto &[key, counts] : loadSites_)
    sites.push_back(
        {siteName(key.first),
         key.second < bufferNames.size() ? bufferNames[key.second] : "?",
         counts.requests, counts.sectors, counts.requestedBytes});
  std::stable_sort(sites.begin(), sites.end(),
                   [&](const LoadSite &a, const LoadSite &b) {
                     return unused(a) > unused(b);
                   });
  if (sites.size() > kReportedLoadSites)
    sites.resize(kReportedLoadSites);
  profile_.loadSites = std::move(sites);
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
    j["fp8_mma_count"] = k.fp8MmaCount;
    j["barriers"] = k.barriers;
    j["atomics"] = k.atomics;
    if (k.columnsRun)
      j["columns_run"] = k.columnsRun;
    nlohmann::ordered_json sites = nlohmann::ordered_json::array();
    for (const LoadSite &site : k.loadSites)
      sites.push_back(
          {{"site", site.site},
           {"buffer", site.buffer},
           {"requests", site.requests},
           {"sectors", site.sectors},
           {"efficiency", site.sectors ? double(site.requestedBytes) /
                                             double(kSector * site.sectors)
                                       : 1.0}});
    j["load_sites"] = std::move(sites);
    list.push_back(std::move(j));
  }
  nlohmann::ordered_json root;
  root["kernels"] = std::move(list);
  return root.dump(2);
}

} // namespace moert
