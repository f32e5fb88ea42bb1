// Shared by the lessons: state a claim, check it, print it. A lesson exits non-zero when one of
// its claims is false, so running the lessons (ctest does) checks that they still tell the truth.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string_view>

namespace lesson {

inline void claim(bool holds, std::string_view what) {
  std::cout << (holds ? "  [ok] " : "  [FAILED] ") << what << "\n";
  if (!holds) std::exit(1);
}

inline void section(std::string_view title) { std::cout << "\n-- " << title << " --\n"; }

}  // namespace lesson
