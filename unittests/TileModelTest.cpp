//===- TileModelTest.cpp - moe-select-tiles' cost model -------------------===//

#include "moe/Transforms/TileModel.h"
#include "moe/Transforms/Passes.h"

#include <gtest/gtest.h>

using namespace mlir::moe;

namespace {

// Mixtral-8x7B, Qwen3-30B-A3B, DeepSeek-V3 (routed experts), bf16.
const LayerShape kShapes[] = {
    {4096, 8, 2, 14336, 2}, {2048, 128, 8, 768, 2}, {7168, 256, 8, 2048, 2}};
const int64_t kTokens[] = {1, 8, 64, 512, 4096, 65536};

TEST(TileModelTest, KnowsAmpereAndHopper) {
  ASSERT_TRUE(lookupGpuTarget("sm_80"));
  ASSERT_TRUE(lookupGpuTarget("sm_90"));
  EXPECT_GT(lookupGpuTarget("sm_90")->multiprocessors,
            lookupGpuTarget("sm_80")->multiprocessors);
  EXPECT_FALSE(lookupGpuTarget("sm_70"));
  EXPECT_FALSE(lookupGpuTarget(""));
}

TEST(TileModelTest, ChoicesFitTheTarget) {
  for (llvm::StringRef chip : {"sm_80", "sm_90"}) {
    GpuTarget target = *lookupGpuTarget(chip);
    for (const LayerShape &shape : kShapes)
      for (int64_t tokens : kTokens) {
        TileChoice c = selectTiles(shape, target, tokens);
        SCOPED_TRACE(chip.str() + " H=" + std::to_string(shape.hidden) +
                     " T=" + std::to_string(tokens));
        for (auto &[key, value] : c.entries())
          EXPECT_GT(value, 0) << key;
        // Staging buffers of the deepest pipeline fit in shared memory.
        EXPECT_LE(c.gateUpStages * (c.expertRows + 2 * c.gateUpColumns) * 64 *
                      shape.weightBytes,
                  target.sharedMemoryPerBlock);
        EXPECT_LE(c.downStages * (c.expertRows + c.downColumns) * 64 *
                      shape.weightBytes,
                  target.sharedMemoryPerBlock);
        EXPECT_GE(c.gateUpStages, 2);
        EXPECT_LE(c.gateUpStages, target.maxStages);
        // 4 to 8 warps; 8-row blocks (the swapped form) at most one per
        // 16 columns, their mma tiles' width (2 for 32 columns).
        for (auto [warps, columns] : {std::pair{c.gateUpWarps, c.gateUpColumns},
                                      std::pair{c.downWarps, c.downColumns}}) {
          EXPECT_GE(warps,
                    c.expertRows == 8 ? std::min<int64_t>(4, columns / 16) : 4);
          EXPECT_LE(warps, 8);
          if (c.expertRows == 8) {
            EXPECT_EQ(columns % (16 * warps), 0) << columns << " " << warps;
          }
        }
        EXPECT_LE(c.routeTokens, 64);
        // Never faster than reading the active experts' weights once.
        int64_t active =
            expectedActiveExperts(shape.experts, shape.topK, tokens);
        double floor = double(active) * 3 * shape.intermediate * shape.hidden *
                       shape.weightBytes / target.bytesPerSecond * 1e6;
        EXPECT_GE(c.estimatedMicroseconds, floor * 0.999);
      }
  }
}

TEST(TileModelTest, RowTilesGrowWithTokens) {
  GpuTarget target = *lookupGpuTarget("sm_90");
  for (const LayerShape &shape : kShapes) {
    int64_t previous = 0;
    for (int64_t tokens : kTokens) {
      int64_t rows = selectTiles(shape, target, tokens).expertRows;
      EXPECT_GE(rows, previous) << "T=" << tokens;
      EXPECT_TRUE(rows == 8 || rows == 16 || rows == 32 || rows == 64 ||
                  rows == 128);
      previous = rows;
    }
    // Decode: at most a few rows per expert, the smallest mma tile (8
    // rows: the swapped form, the tokens as mma.sync's 8-column side).
    EXPECT_EQ(selectTiles(shape, target, 1).expertRows, 8);
  }
  // Mixtral prefill: 1024 rows per expert.
  EXPECT_EQ(selectTiles(kShapes[0], target, 4096).expertRows, 128);
}

TEST(TileModelTest, DecodeGivesEveryMultiprocessorWork) {
  // Issue 19's decode target: at 1, 8 and 64 tokens each expert GEMM has at
  // least one working block per multiprocessor wherever the narrowest tile
  // (32 columns) allows it. Mixtral-8x7B, Qwen3-30B-A3B, DeepSeek-V3,
  // gpt-oss-120b and Llama-4-Scout (routed experts), bf16.
  const LayerShape shapes[] = {{4096, 8, 2, 14336, 2},
                               {2048, 128, 8, 768, 2},
                               {7168, 256, 8, 2048, 2},
                               {2880, 128, 4, 2880, 2},
                               {5120, 16, 1, 8192, 2}};
  for (llvm::StringRef chip : {"sm_80", "sm_90"}) {
    GpuTarget target = *lookupGpuTarget(chip);
    for (const LayerShape &shape : shapes)
      for (int64_t tokens : {1, 8, 64}) {
        TileChoice c = selectTiles(shape, target, tokens);
        SCOPED_TRACE(chip.str() + " H=" + std::to_string(shape.hidden) +
                     " T=" + std::to_string(tokens));
        int64_t active =
            expectedActiveExperts(shape.experts, shape.topK, tokens);
        int64_t rowsPerExpert = (tokens * shape.topK + active - 1) / active;
        int64_t rowTiles =
            active * ((rowsPerExpert + c.expertRows - 1) / c.expertRows);
        auto blocks = [&](int64_t columns, int64_t tile) {
          return rowTiles * ((columns + tile - 1) / tile);
        };
        int64_t want = target.multiprocessors;
        EXPECT_GE(blocks(shape.intermediate, c.gateUpColumns),
                  std::min(want, blocks(shape.intermediate, 32)));
        EXPECT_GE(blocks(shape.hidden, c.downColumns),
                  std::min(want, blocks(shape.hidden, 32)));
      }
  }
}

TEST(TileModelTest, ExpectedActiveExperts) {
  // One token: exactly its K experts.
  EXPECT_EQ(expectedActiveExperts(256, 8, 1), 8);
  // Llama-4-Scout at 8 tokens: 16 (1 - (15/16)^8) = 6.45, as routed (6).
  EXPECT_EQ(expectedActiveExperts(16, 1, 8), 6);
  // Mixtral at 8 tokens: 8 (1 - (6/8)^8) = 7.2.
  EXPECT_EQ(expectedActiveExperts(8, 2, 8), 7);
  // Many tokens: every expert.
  EXPECT_EQ(expectedActiveExperts(128, 8, 4096), 128);
  // Bounds: K at least, never more than E or T K.
  EXPECT_EQ(expectedActiveExperts(4, 4, 3), 4);
  EXPECT_EQ(expectedActiveExperts(1000000, 2, 3), 6);
}

TEST(TileModelTest, RouteTokensLeaveTheSharedExpertOut) {
  GpuTarget target = *lookupGpuTarget("sm_90");
  // DeepSeek-V3 with its shared expert (I 2048): the shared expert has
  // kernels of its own (moe-form-kernels; moe-fuse-launches may run them
  // beside the routed experts'), so the route tile keeps only
  // the routing's temporaries, about 48 E bytes per token, and as many
  // tokens as without it.
  LayerShape shared = kShapes[2];
  shared.sharedIntermediate = 2048;
  for (int64_t tokens : kTokens) {
    SCOPED_TRACE("T=" + std::to_string(tokens));
    TileChoice c = selectTiles(shared, target, tokens);
    EXPECT_EQ(c.routeTokens,
              selectTiles(kShapes[2], target, tokens).routeTokens);
    EXPECT_LE(c.routeTokens * 48 * 256, kKernelSharedMemoryBudget);
  }
  // 12 KiB per token: 8 tokens fit.
  EXPECT_EQ(selectTiles(shared, target, 4096).routeTokens, 8);
}

TEST(TileModelTest, SharedExpertAsWideAsARoutedOneTakesItsTiles) {
  GpuTarget target = *lookupGpuTarget("sm_90");
  // DeepSeek-V3's shared expert (I 2048, a routed expert's width): at
  // decode it takes the routed kernels' column tiles and warps, so that
  // moe-fuse-launches runs it beside them in their launches.
  LayerShape deepseek = kShapes[2];
  deepseek.sharedIntermediate = 2048;
  for (int64_t tokens : {1, 8, 64}) {
    SCOPED_TRACE("T=" + std::to_string(tokens));
    TileChoice c = selectTiles(deepseek, target, tokens);
    EXPECT_EQ(c.sharedGateUpColumns, c.gateUpColumns);
    EXPECT_EQ(c.sharedGateUpWarps, c.gateUpWarps);
    EXPECT_EQ(c.sharedDownColumns, c.downColumns);
    EXPECT_EQ(c.sharedDownWarps, c.downWarps);
  }
  // Qwen2-57B-A14B's (I 20480 against 2560) keeps tiles of its own: its
  // down at one token takes 32 columns (112 blocks), not the routed 128.
  LayerShape qwen2 = {3584, 64, 8, 2560, 2};
  qwen2.sharedIntermediate = 20480;
  TileChoice c = selectTiles(qwen2, target, 1);
  EXPECT_EQ(c.downColumns, 128);
  EXPECT_EQ(c.sharedDownColumns, 32);
}

TEST(TileModelTest, CombineStepsAreAboutAThousandElements) {
  GpuTarget target = *lookupGpuTarget("sm_90");
  for (const LayerShape &shape : kShapes)
    for (int64_t tokens : kTokens) {
      TileChoice c = selectTiles(shape, target, tokens);
      SCOPED_TRACE("H=" + std::to_string(shape.hidden) +
                   " T=" + std::to_string(tokens));
      // No more tokens than there are (rounded up to a power of two).
      EXPECT_LE(c.combineTokens, std::max<int64_t>(tokens, 1) * 2 - 1);
      EXPECT_LE(c.combineTokens * c.downColumns, 1024);
      if (tokens >= 64) {
        EXPECT_EQ(c.combineTokens * c.downColumns, 1024);
      }
    }
}

TEST(TileModelTest, CombineJoinsDownOnlyWhileItsTailIsShort) {
  GpuTarget target = *lookupGpuTarget("sm_90");
  // Mixtral-8x7B: a few elements per thread at 1 and 8 tokens; at 64 and
  // past, the tail of the last block of a column would outlast a launch.
  EXPECT_EQ(selectTiles(kShapes[0], target, 1).launches, 3);
  EXPECT_EQ(selectTiles(kShapes[0], target, 8).launches, 3);
  EXPECT_EQ(selectTiles(kShapes[0], target, 64).launches, 4);
  EXPECT_EQ(selectTiles(kShapes[0], target, 4096).launches, 4);
  for (const LayerShape &shape : kShapes)
    for (int64_t tokens : kTokens) {
      TileChoice c = selectTiles(shape, target, tokens);
      EXPECT_TRUE(c.launches == 3 || c.launches == 4);
      if (c.launches == 3) {
        EXPECT_LE(tokens * std::min(c.downColumns, shape.hidden),
                  8 * c.downWarps * 32);
      }
    }
}

// Equal parts: the largest divisor up to a bound, at least 1.
TEST(TileModelTest, LargestDivisorUpTo) {
  EXPECT_EQ(largestDivisorUpTo(60, 7), 6);
  EXPECT_EQ(largestDivisorUpTo(64, 64), 64);
  EXPECT_EQ(largestDivisorUpTo(64, 1000), 64);
  EXPECT_EQ(largestDivisorUpTo(13, 12), 1);
  EXPECT_EQ(largestDivisorUpTo(8, 0), 1);
  EXPECT_EQ(largestDivisorUpTo(0, 4), 1);
}

// The router kernel's experts per block: a divisor of E, no more than
// asked, and partial sums ([tokens, experts, 32 lanes] f32) within 32 KiB.
TEST(TileModelTest, RouterExpertsPerBlock) {
  EXPECT_EQ(routerExpertsPerBlock(128, 2048, 1, 1), 1);
  EXPECT_EQ(routerExpertsPerBlock(128, 2048, 1, 62), 32);
  EXPECT_EQ(routerExpertsPerBlock(60, 2048, 1, 7), 6);
  EXPECT_EQ(routerExpertsPerBlock(8, 4096, 1, 0), 1);
  // 16 tokens: 16 x 16 x 32 x 4 bytes = 32 KiB.
  EXPECT_EQ(routerExpertsPerBlock(128, 2048, 16, 128), 16);
  // 2880 = 64 x 45: 32 lanes still divide it.
  EXPECT_EQ(routerExpertsPerBlock(32, 2880, 64, 32), 4);
}

// At decode every SM gets a router block (E / router_experts columns per
// row of tokens); with more tokens, fewer and larger columns.
TEST(TileModelTest, RouterSpreadsOverTheChip) {
  LayerShape shape;
  shape.hidden = 2048;
  shape.intermediate = 768;
  shape.experts = 128;
  shape.topK = 8;
  GpuTarget target = *lookupGpuTarget("sm_90");
  EXPECT_EQ(selectTiles(shape, target, 1).routerExperts, 1);
  TileChoice at64 = selectTiles(shape, target, 64);
  EXPECT_GE(((64 + at64.routeTokens - 1) / at64.routeTokens) * 128 /
                at64.routerExperts,
            int64_t{132});
}

TEST(TileModelTest, EntriesRoundTrip) {
  TileChoice c;
  auto defaults = c.entries();
  for (auto &[key, value] : defaults)
    EXPECT_TRUE(c.set(key, value + 1)) << key;
  auto changed = c.entries();
  ASSERT_EQ(changed.size(), 11u);
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_EQ(changed[i].first, defaults[i].first);
    EXPECT_EQ(changed[i].second, defaults[i].second + 1) << changed[i].first;
  }
  EXPECT_FALSE(c.set("expert_row", 8));
}

} // namespace
