// npz: written as numpy.savez writes it, read back bitwise; every hostile input is a CheckpointError.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nnx/checkpoint/error.hpp>
#include <nnx/interop/npz.hpp>
#include <nnx/init.hpp>
#include <nnx/key.hpp>
#include <unistd.h>
#include <string>
#include <vector>

namespace {

using nnx::Array;
using nnx::DType;
namespace interop = nnx::interop;

std::string npz_temp(const char* name) { return std::string("/tmp/nnx-npz-") + std::to_string(::getpid()) + "-" + name; }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Arrays of every dtype and rank 0..3 (and an empty one), values from a seeded key.
std::vector<interop::NamedArray> every_dtype() {
  std::vector<interop::NamedArray> out;
  const std::vector<nnx::Shape> shapes = {{}, {5}, {2, 3}, {2, 0, 4}, {3, 1, 2}};
  int i = 0;
  for (DType dtype : {DType::float32, DType::float64, DType::int32, DType::int64, DType::uint32})
    for (const nnx::Shape& shape : shapes) {
      const Array a = nnx::init::normal(1000.0)(nnx::fold_in(nnx::key_from_seed(7), static_cast<std::uint64_t>(i)), shape, DType::float64);
      out.push_back({"a" + std::to_string(i++) + ".x/y", a.astype(dtype)});
    }
  return out;
}

}  // namespace

TEST_CASE("npz: every dtype and rank round-trips bitwise, as stored entries named <key>.npy") {
  const std::string path = npz_temp("roundtrip.npz");
  const auto arrays = every_dtype();
  interop::write_npz(path, arrays);
  const std::string bytes = file_bytes(path);
  CHECK(bytes.compare(0, 4, "PK\x03\x04") == 0);
  for (const auto& a : arrays) CHECK(bytes.find(a.name + ".npy") != std::string::npos);
  const auto back = interop::read_npz(path);
  REQUIRE(back.size() == arrays.size());
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    CAPTURE(arrays[i].name);
    CHECK(back[i].name == arrays[i].name);
    CHECK(back[i].array.dtype() == arrays[i].array.dtype());
    CHECK(back[i].array.shape() == arrays[i].array.shape());
    CHECK(std::memcmp(back[i].array.raw_data(), arrays[i].array.raw_data(), arrays[i].array.nbytes()) == 0);
  }
  // An empty archive, as numpy.savez() writes it, and back.
  interop::write_npz(path + ".empty", {});
  CHECK(file_bytes(path + ".empty").size() == 22);
  CHECK(interop::read_npz(path + ".empty").empty());
  std::remove((path + ".empty").c_str());
  // From memory too: the same arrays.
  CHECK(interop::read_npz_bytes(bytes.data(), bytes.size(), "in memory").size() == arrays.size());
  std::remove(path.c_str());
}

TEST_CASE("npy: the header numpy writes — 64-byte aligned, (n,) for one dimension, () for a scalar") {
  const std::string one = interop::npy_bytes(Array::zeros({3}, DType::float32));
  const std::size_t header_end = one.find('\n') + 1;
  CHECK(header_end % 64 == 0);
  CHECK(one.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") == 10);
  CHECK(interop::npy_bytes(Array::scalar<std::int64_t>(4)).find("'shape': (), }") != std::string::npos);
  CHECK(interop::npy_bytes(Array::zeros({2, 3}, DType::uint32)).find("'<u4'") != std::string::npos);
}

TEST_CASE("npy and npz: every hostile input is a CheckpointError naming the entry") {
  const Array a = Array::zeros({2, 2}, DType::float32);
  const std::string good = interop::npy_bytes(a);
  struct Case {
    const char* what;
    std::string bytes;
    const char* says;
  };
  std::string big_endian = good;
  big_endian.replace(big_endian.find("'<f4'"), 5, "'>f4'");
  std::vector<Case> cases = {
      {"no magic", "hello", "no \\x93NUMPY magic"},
      {"float16", std::string(good).replace(good.find("<f4"), 3, "<f2"), "dtype '<f2' is not one nnx holds"},
      {"fortran order", std::string(good).replace(good.find("False"), 5, "True "), "Fortran-ordered"},
      {"shape too large", std::string(good).replace(good.find("(2, 2)"), 6, "(9, 9)"), "needs 324 bytes, the entry holds 16"},
      // Overwrites some of the header's padding spaces, so the header's length stays right.
      {"huge shape", std::string(good).replace(good.find("(2, 2), }"), 33, "(9999999999999, 9999999999999), }"),
       "is larger than any file"},
      {"nine dimensions (found by fuzz_npz: Shape threw its own error)",
       std::string(good).replace(good.find("(2, 2), }"), 30, "(1, 1, 1, 1, 1, 1, 1, 1, 4), }"), "more than 8 dimensions"},
      {"negative dim", std::string(good).replace(good.find("(2, 2)"), 6, "(-2, 2)"), "not a non-negative integer"},
      {"unknown key", std::string(good).replace(good.find("'shape'"), 7, "'shapf'"), "unknown key"},
      {"header length beyond the file", std::string(good).replace(8, 2, std::string("\xff\xff", 2)), "a header of 65535 bytes"},
      {"version 9", std::string(good).replace(6, 1, "\x09"), "version 9.0"},
      {"truncated data", good.substr(0, good.size() - 1), "the entry holds 15"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.what));
    try {
      (void)interop::parse_npy(c.bytes.data(), c.bytes.size(), "x.npy");
      FAIL("accepted");
    } catch (const nnx::checkpoint::CheckpointError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(c.says) != std::string::npos, e.what());
      CHECK(std::string(e.what()).find("x.npy") != std::string::npos);
    }
  }
  // Big-endian data (numpy's '>f4') is converted, not misread.
  std::string be = big_endian;
  const float two = 2.0f;
  unsigned char raw[4];
  std::memcpy(raw, &two, 4);
  for (int k = 0; k < 4; ++k) be[be.size() - 16 + k] = static_cast<char>(raw[3 - k]);
  CHECK(interop::parse_npy(be.data(), be.size(), "be.npy").data<float>()[0] == 2.0f);
  // Zip damage: every flipped byte of a small npz is refused or reads back exactly the original.
  const std::string path = npz_temp("flip.npz");
  interop::write_npz(path, {{"w", Array::full({3}, DType::float32, 1.5)}});
  const std::string zip = file_bytes(path);
  int refused = 0;
  for (std::size_t at = 0; at < zip.size(); ++at) {
    std::string b = zip;
    b[at] = static_cast<char>(b[at] ^ 0x01);
    try {
      const auto back = interop::read_npz_bytes(b.data(), b.size(), "flipped.npz");
      // Some zip bytes carry nothing read (e.g. the version-made-by field): the values must be intact.
      REQUIRE(back.size() == 1);
      CHECK(back[0].name == "w");
      CHECK(back[0].array.data<float>()[2] == 1.5f);
    } catch (const nnx::checkpoint::CheckpointError&) {
      ++refused;
    }
  }
  CHECK(refused > static_cast<int>(zip.size()) / 2);
  MESSAGE("npz of ", zip.size(), " bytes: ", refused, " flipped bytes refused, the others read back intact");
  std::remove(path.c_str());
}
