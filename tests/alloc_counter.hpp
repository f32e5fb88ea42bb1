// tests/alloc_counter.hpp — replaces the global operator new/delete of the program that includes
// it (once, in one .cpp) with versions that count every byte handed out: allocated_bytes().
// Used where a claim is about memory: eval_shape's test and bench_memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace alloc_counter {
inline std::atomic<std::size_t> total{0};
inline std::atomic<std::size_t> calls{0};

inline void* counted(std::size_t n, std::size_t align) {
  total += n;
  ++calls;
  void* p = align <= alignof(std::max_align_t) ? std::malloc(n ? n : 1)
                                                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace alloc_counter

inline std::size_t allocated_bytes() { return alloc_counter::total.load(); }
inline std::size_t allocation_calls() { return alloc_counter::calls.load(); }

void* operator new(std::size_t n) { return alloc_counter::counted(n, alignof(std::max_align_t)); }
void* operator new[](std::size_t n) { return alloc_counter::counted(n, alignof(std::max_align_t)); }
void* operator new(std::size_t n, std::align_val_t a) { return alloc_counter::counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return alloc_counter::counted(n, static_cast<std::size_t>(a)); }
// The nothrow forms too: the library's own pairs them with the deletes above (std::stable_sort does).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return alloc_counter::counted(n, alignof(std::max_align_t));
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return alloc_counter::counted(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return operator new(n, std::nothrow); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

