// Runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer: the regression test
// that replays every input that once found a bug (fuzz/regressions/<target>/) in the normal and
// the sanitizer builds.
//   fuzz_replay_<target> FILE_OR_DIR...
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  int replayed = 0;
  auto replay = [&](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++replayed;
  };
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') replay(e.path());
    } else if (std::filesystem::exists(arg)) {
      replay(arg);
    }
  }
  std::printf("replayed %d inputs without a crash\n", replayed);
  return 0;
}
