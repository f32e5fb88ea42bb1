#include "nnx/rngs.hpp"

#include <limits>

#include "nnx/error.hpp"

namespace nnx {

namespace {
constexpr std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
}  // namespace

std::array<std::uint32_t, 2> threefry2x32(Key key, std::array<std::uint32_t, 2> counter) {
  // Threefry-2x32-20 as in Random123 and jax._src.prng: 5 groups of 4 rounds, key injection after each.
  static constexpr int kRotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  const std::uint32_t ks[3] = {key.hi, key.lo, 0x1BD11BDAu ^ key.hi ^ key.lo};
  std::uint32_t x0 = counter[0] + ks[0];
  std::uint32_t x1 = counter[1] + ks[1];
  for (std::uint32_t group = 0; group < 5; ++group) {
    for (int r : kRotations[group % 2]) {
      x0 += x1;
      x1 = rotl(x1, r);
      x1 ^= x0;
    }
    x0 += ks[(group + 1) % 3];
    x1 += ks[(group + 2) % 3] + group + 1;
  }
  return {x0, x1};
}

Key key_from_seed(std::uint64_t seed) {
  return Key{static_cast<std::uint32_t>(seed >> 32), static_cast<std::uint32_t>(seed & 0xffffffffu)};
}

Key fold_in(Key key, std::uint32_t data) {
  auto w = threefry2x32(key, {0u, data});
  return Key{w[0], w[1]};
}

RngStream::RngStream(std::string tag, Key k)
    : key(Array::from_values<std::uint32_t>({2}, {k.hi, k.lo}), {{"tag", tag}}),
      count(Array::scalar<std::uint32_t>(0), {{"tag", tag}}) {}

Key RngStream::current_key() const {
  const std::uint32_t* k = key.value.data<std::uint32_t>();
  return Key{k[0], k[1]};
}

std::uint32_t RngStream::current_count() const { return count.value.item<std::uint32_t>(); }

Key RngStream::next() {
  // Inside eval_shape nothing is random: the arrays it makes are abstract, so the key is never
  // used. A real stream (say, an Rngs the constructor captured) is not advanced either: eval_shape
  // leaves everything outside it as it was.
  if (key.value.is_abstract() || count.value.is_abstract() || AbstractScope::active()) return Key{};
  if (key.value.shape() != Shape{2} || count.value.numel() != 1)
    throw Error("RNG stream '" + tag() + "': expected key uint32[2] and count uint32[], got key " +
                key.value.shape_dtype().str() + " and count " + count.value.shape_dtype().str());
  std::uint32_t c = current_count();
  if (c == std::numeric_limits<std::uint32_t>::max())
    throw Error("RNG stream '" + tag() + "' is exhausted after 2^32-1 draws; seed a new stream");
  Key k = fold_in(current_key(), c);
  count.value.mutable_data<std::uint32_t>()[0] = c + 1;
  return k;
}

Rngs::Rngs(std::uint64_t seed) { streams_.emplace("default", RngStream("default", key_from_seed(seed))); }

Rngs::Rngs(std::vector<std::pair<std::string, std::uint64_t>> seeds) {
  for (auto& [name, seed] : seeds) {
    if (name.empty()) throw Error("Rngs: a stream name must not be empty");
    if (!streams_.emplace(name, RngStream(name, key_from_seed(seed))).second)
      throw Error("Rngs: stream '" + name + "' is given twice");
  }
}

Rngs::Rngs(std::initializer_list<std::pair<const char*, std::uint64_t>> seeds)
    : Rngs([&] {
        std::vector<std::pair<std::string, std::uint64_t>> v;
        for (auto& [n, s] : seeds) v.emplace_back(n, s);
        return v;
      }()) {}

bool Rngs::has_stream(std::string_view name) const { return streams_.count(std::string(name)) != 0; }

RngStream& Rngs::stream(std::string_view name) {
  if (auto it = streams_.find(std::string(name)); it != streams_.end()) return it->second;
  if (auto it = streams_.find("default"); it != streams_.end()) return it->second;
  std::string names;
  for (const auto& [n, s] : streams_) names += (names.empty() ? "" : ", ") + n;
  throw Error("Rngs: no stream '" + std::string(name) + "' and no 'default' stream to fall back on (streams: " +
              (names.empty() ? "none" : names) + "); create Rngs with a '" + std::string(name) +
              "' or 'default' seed");
}

Key Rngs::operator()(std::string_view name) { return stream(name).next(); }

std::vector<std::string> Rngs::stream_names() const {
  std::vector<std::string> names;
  for (const auto& [n, s] : streams_) names.push_back(n);
  return names;
}

}  // namespace nnx
