// The libtorch side of the checkpoint benchmark: torch::save (+ fsync) and torch::load of the same
// parameters as bench_checkpoint's State.
//
//   build/bin/bench_torch_checkpoint PARAMS DIR [repeats]
#include <fcntl.h>
#include <malloc.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
void report(const char* name, std::vector<double> v, double mb) {  // the same line format as bench_checkpoint
  std::sort(v.begin(), v.end());
  const double m = v[v.size() / 2];
  std::printf("%-26s %10.3f ms [%.3f, %.3f]  %8.0f MB/s\n", name, m, v.front(), v.back(), mb / (m / 1e3));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_torch_checkpoint PARAMS DIR [repeats]\n");
    return 2;
  }
  const std::int64_t params = std::atoll(argv[1]);
  const std::string dir = argv[2];
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // fresh pages for every large buffer, as in bench_checkpoint
  std::filesystem::create_directories(dir);
  std::vector<torch::Tensor> tensors;  // the same layout: arrays of at most 4M float32
  for (std::int64_t left = params; left > 0; left -= std::min<std::int64_t>(left, 4 << 20))
    tensors.push_back(torch::arange(std::min<std::int64_t>(left, 4 << 20), torch::kFloat32).remainder(1000) * 1e-3);
  const double mb = static_cast<double>(params) * 4 / 1e6;
  std::vector<double> t_save, t_load;
  const std::string path = dir + "/torch.pt";
  for (int r = 0; r < repeats; ++r) {
    std::filesystem::remove(path);
    auto t = Clock::now();
    torch::save(tensors, path);
    int fd = ::open(path.c_str(), O_RDONLY);
    ::fsync(fd);
    ::close(fd);
    t_save.push_back(ms_since(t));
    std::vector<torch::Tensor> loaded;
    t = Clock::now();
    torch::load(loaded, path);
    t_load.push_back(ms_since(t));
    if (loaded.size() != tensors.size() || !loaded.back().equal(tensors.back())) return 1;
  }
  std::filesystem::remove(path);
  std::printf("state: %lld float32 parameters, %.1f MB, %d repeats (median)\n", static_cast<long long>(params), mb, repeats);
  report("torch::save+fsync", t_save, mb);
  report("torch::load", t_load, mb);
  return 0;
}
