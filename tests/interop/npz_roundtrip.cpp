// For the numpy test: reads IN.npz with nnx (as numpy wrote it) and writes its arrays to OUT.npz
// with nnx, so that numpy can compare both files bitwise; prints one line per array.
#include <iostream>
#include <nnx/checkpoint/error.hpp>
#include <nnx/interop/npz.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: npz_roundtrip IN.npz OUT.npz\n";
    return 2;
  }
  try {
    const auto arrays = nnx::interop::read_npz(argv[1]);
    for (const auto& a : arrays) std::cout << a.name << " " << a.array.shape_dtype().str() << "\n";
    nnx::interop::write_npz(argv[2], arrays);
  } catch (const nnx::checkpoint::CheckpointError& e) {
    std::cout << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
