// Turning run-time flags into template arguments, so that a kernel instantiated for each
// combination holds only the arithmetic its flags select (the optimizer steps' vector paths).
#pragma once

#include <type_traits>

namespace ember::cpu {

// Calls f(std::bool_constant<flags[0]>{}, ..., std::bool_constant<flags[kCount - 1]>{}): f is
// instantiated for all 2^kCount combinations, and one is called.
template <int kCount, typename F, typename... Known>
void with_flags(const bool* flags, const F& f, Known... known) {
  if constexpr (sizeof...(Known) == kCount) {
    f(known...);
  } else if (flags[sizeof...(Known)]) {
    with_flags<kCount>(flags, f, known..., std::true_type{});
  } else {
    with_flags<kCount>(flags, f, known..., std::false_type{});
  }
}

}  // namespace ember::cpu
