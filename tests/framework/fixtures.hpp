// tests/framework/fixtures.hpp — helpers the framework tests share: error messages, paths, values.
//
//   using namespace framework_test;
//   CHECK(has(error_of([] { nnx::load_csv("missing.csv"); }), "missing.csv"));
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <nnx/nnx.hpp>

namespace framework_test {

// The message of the nnx::Error `f` throws, "<no exception>" when it throws none.
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const nnx::Error& e) {
    return e.what();
  }
  return "<no exception>";
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A unique directory under the system temp dir, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("nnx_framework_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = path / name;
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
};

// The paths of a State as strings, in its (sorted) order.
inline std::vector<std::string> paths_of(const nnx::State& s) {
  std::vector<std::string> out;
  for (const auto& [path, var] : s) out.push_back(path.str());
  return out;
}

// Every element of `a` as a double.
inline std::vector<double> values(const nnx::Array& a) {
  const nnx::Array d = a.astype(nnx::DType::float64);
  return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
}

// Restores the matmul backend, FMA path and thread count a test changes.
struct FmaSettingsGuard {
  nnx::MatmulBackend backend = nnx::matmul_backend();
  nnx::FmaPath path = nnx::fma_path();
  int threads = nnx::num_threads();
  ~FmaSettingsGuard() {
    nnx::set_matmul_backend(backend);
    nnx::set_fma_path(path);
    nnx::set_num_threads(threads);
  }
};

inline std::vector<nnx::FmaPath> fma_test_paths() {
  std::vector<nnx::FmaPath> out;
  for (nnx::FmaPath p : {nnx::FmaPath::scalar, nnx::FmaPath::avx2, nnx::FmaPath::avx512})
    if (nnx::fma_path_available(p)) out.push_back(p);
  return out;
}

// Calls f() on every FMA path this CPU has, at 1 and at 2 threads (both named when a check fails).
template <class F> void on_every_fma_setting(F&& f) {
  for (nnx::FmaPath path : fma_test_paths())
    for (int threads : {1, 2}) {
      const std::string path_name = nnx::fma_path_name(path);
      CAPTURE(path_name);
      CAPTURE(threads);
      nnx::set_fma_path(path);
      nnx::set_num_threads(threads);
      f();
    }
}

inline bool same_bits(const nnx::Array& a, const nnx::Array& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace framework_test
