//===- Mutators.h - custom libFuzzer mutations for text inputs --*- C++ -*-===//
//
// Most of what these inputs can get wrong is a size: a layer count, an
// expert count, a tensor dimension, a top-k. libFuzzer's byte mutations
// rarely turn "64" into "9223372036854775807" (larger numbers reach no new
// code until they break something), so a quarter of the mutations here
// replace one number of the text by a value at an integer boundary; the rest
// are libFuzzer's own (dictionary included).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_FUZZ_MUTATORS_H
#define MOE_FUZZ_MUTATORS_H

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

namespace moefuzz {

inline std::string toString(__int128 n) {
  bool negative = n < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(n)
                                 : static_cast<unsigned __int128>(n);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u);
  if (negative)
    digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

/// Replaces one number of `data` (a run of digits that starts a token: not
/// right after a letter other than `x`, as in `tensor<8x64xf32>`, nor after
/// `%`, `_`, `@`, `#` or `^`, as in `%arg0`, `bf16`) by an interesting value.
/// Returns the new size, or 0 when there is no number or no room.
inline size_t mutateNumber(uint8_t *data, size_t size, size_t maxSize,
                           std::minstd_rand &rng) {
  static const char *const kValues[] = {
      "0",
      "1",
      "2",
      "3",
      "-1",
      "-2",
      "7",
      "8",
      "16",
      "31",
      "32",
      "63",
      "64",
      "255",
      "256",
      "65535",
      "65536",
      "2147483647",
      "2147483648",
      "-2147483648",
      "4294967295",
      "4294967296",
      "1099511627776",
      "4611686018427387903",
      "4611686018427387904",
      "9007199254740993",
      "9223372036854775806",
      "9223372036854775807",
      "9223372036854775808",
      "-9223372036854775808",
      "18446744073709551615",
      "18446744073709551616",
      "99999999999999999999999",
      "1e308",
      "1e309",
      "-0",
      "0.5",
      "1e-320",
  };
  struct Run {
    size_t begin, end;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < size;) {
    if (!std::isdigit(data[i])) {
      ++i;
      continue;
    }
    size_t begin = i;
    while (i < size && std::isdigit(data[i]))
      ++i;
    if (begin > 0) {
      unsigned char before = data[begin - 1];
      if ((std::isalpha(before) && before != 'x') ||
          std::strchr("%_@#^", before))
        continue;
      if (before == '-')
        --begin;
    }
    runs.push_back({begin, i});
  }
  if (runs.empty())
    return 0;
  Run run = runs[rng() % runs.size()];
  std::string value = kValues[rng() % (sizeof(kValues) / sizeof(*kValues))];
  // Sometimes a neighbour of the original instead (off-by-one edges); in
  // 128 bits, so no value of the input overflows here.
  if (rng() % 4 == 0) {
    std::string original(reinterpret_cast<char *>(data) + run.begin,
                         run.end - run.begin);
    __int128 n = std::strtoll(original.c_str(), nullptr, 10);
    switch (rng() % 4) {
    case 0:
      n += 1;
      break;
    case 1:
      n -= 1;
      break;
    case 2:
      n *= 2;
      break;
    default:
      n /= 2;
      break;
    }
    value = toString(n);
  }
  size_t oldLength = run.end - run.begin;
  size_t newSize = size - oldLength + value.size();
  if (newSize > maxSize)
    return 0;
  std::memmove(data + run.begin + value.size(), data + run.end, size - run.end);
  std::memcpy(data + run.begin, value.data(), value.size());
  return newSize;
}

/// The mutation for text inputs: a number replaced one time in four,
/// libFuzzer's own mutations otherwise.
inline size_t mutateText(uint8_t *data, size_t size, size_t maxSize,
                         unsigned seed) {
  std::minstd_rand rng(seed);
  if (rng() % 4 == 0)
    if (size_t newSize = mutateNumber(data, size, maxSize, rng))
      return newSize;
  return LLVMFuzzerMutate(data, size, maxSize);
}

} // namespace moefuzz

#endif // MOE_FUZZ_MUTATORS_H
