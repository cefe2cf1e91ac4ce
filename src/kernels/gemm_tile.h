// Internal: turns a kernel struct with `template <int NR, int NC> static void run(const TileArgs&)`
// into a TileFn that dispatches on the run-time tile shape (nr, nc) to a compile-time one.
//
// Include only inside an anonymous namespace user: the SIMD files instantiate these templates
// with their own internal-linkage kernel types, so no code compiled with one ISA's flags can be
// merged by the linker into another ISA's callers.
#pragma once

#include <cstddef>
#include <utility>

#include "kernels/gemm.h"

namespace er::kernels::detail {

template <typename K, int NR, int NC>
void run_tile(const TileArgs& t) {
  K::template run<NR, NC>(t);
}

template <typename K, typename Seq>
struct TileTable;
template <typename K, size_t... I>
struct TileTable<K, std::index_sequence<I...>> {
  // A plain array (no std::array members instantiated under SIMD target flags).
  static constexpr void (*kFns[])(const TileArgs&) = {
      &run_tile<K, static_cast<int>(I) / K::kMaxCols + 1, static_cast<int>(I) % K::kMaxCols + 1>...};
};

// The TileFn of kernel K: (nr, nc) with 1 <= nr <= K::kMaxRows, 1 <= nc <= K::kMaxCols.
template <typename K>
void tile_entry(const TileArgs& t, int nr, int nc) {
  using Table = TileTable<K, std::make_index_sequence<K::kMaxRows * K::kMaxCols>>;
  Table::kFns[(nr - 1) * K::kMaxCols + (nc - 1)](t);
}

}  // namespace er::kernels::detail
