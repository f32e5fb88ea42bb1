// The libtorch side of the checkpoint benchmark: torch::save (+ fsync) and torch::load of the same
// parameters as bench_checkpoint's State, warm and cold as bench/read_conditions.hpp defines them.
// torch::load checks nothing: a flipped byte in the file loads silently (nnx restore verifies an
// XXH3 checksum of every byte).
//
//   build/bin/bench_torch_checkpoint PARAMS DIR warm [repeats] | write | cold load
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "read_conditions.hpp"

namespace {
using bench::Clock;
using bench::ms_since;

std::vector<torch::Tensor> make_tensors(std::int64_t params) {  // bench_checkpoint's layout: arrays of at most 4M float32
  std::vector<torch::Tensor> tensors;
  for (std::int64_t left = params; left > 0; left -= std::min<std::int64_t>(left, 4 << 20))
    tensors.push_back(torch::arange(std::min<std::int64_t>(left, 4 << 20), torch::kFloat32).remainder(1000) * 1e-3);
  return tensors;
}

void save_durably(const std::vector<torch::Tensor>& tensors, const std::string& path) {
  torch::save(tensors, path);
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) std::abort();
  ::close(fd);
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!a[i].equal(b[i])) return false;
  return true;
}
// One torch::load of a file dropped from the page cache, in a process that allocated nothing large
// before it: its milliseconds, or -1 when it loaded wrong values.
double cold_load(const std::string& path, std::int64_t params) {
  bench::drop_from_page_cache(path);
  std::vector<torch::Tensor> loaded;
  const auto t = Clock::now();
  torch::load(loaded, path);
  const double ms = ms_since(t);
  return same(loaded, make_tensors(params)) ? ms : -1;
}
}  // namespace

int main(int argc, char** argv) {
  bench::DiskArgs a;
  if (!bench::parse_disk_args(argc, argv, a, "bench_torch_checkpoint", "load")) return 2;
  std::filesystem::create_directories(a.dir);
  const std::string path = a.dir + "/torch.pt";
  const double mb = static_cast<double>(a.params) * 4 / 1e6;
  if (a.mode == "cold") {
    if (a.which != "load") return 2;
    (void)cold_load(a.dir + "/tiny.pt", 1);  // libtorch's own first-run costs, paid on a 1-parameter file
    const double ms = cold_load(path, a.params);
    if (ms < 0) return 1;
    bench::report_ms("torch::load", {ms}, mb);
    return 0;
  }
  if (a.mode == "warm") bench::keep_freed_memory();
  const std::vector<torch::Tensor> tensors = make_tensors(a.params);
  if (a.mode == "write") {
    save_durably(tensors, path);
    save_durably(make_tensors(1), a.dir + "/tiny.pt");
    return 0;
  }
  std::vector<double> t_save, t_load;
  for (int r = 0; r <= a.repeats; ++r) {  // repeat 0 warms up, untimed
    std::filesystem::remove(path);
    auto t = Clock::now();
    save_durably(tensors, path);
    if (r > 0) t_save.push_back(ms_since(t));
    std::vector<torch::Tensor> loaded;
    t = Clock::now();
    torch::load(loaded, path);
    if (r > 0) t_load.push_back(ms_since(t));
    if (!same(loaded, tensors)) return 1;
  }
  std::filesystem::remove(path);
  std::printf("state: %lld float32 parameters, %.1f MB, %d warm repeats (median)\n", static_cast<long long>(a.params), mb,
              a.repeats);
  bench::report_ms("torch::save+fsync", t_save, mb);
  bench::report_ms("torch::load", t_load, mb);
  return 0;
}
