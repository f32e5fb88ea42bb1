#include "state_bytes.hpp"

#include <cstring>
#include <sstream>

#include "nnx/error.hpp"

namespace nnx::distributed::detail {

namespace {
std::string signature(const State& state) {
  std::string s;
  for (const auto& [path, var] : state) s += path.str() + " " + var.kind().name() + " " + var.value.shape_dtype().str() + "\n";
  return s;
}

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_u64(const std::vector<std::uint8_t>& in, std::size_t& at, const std::string& what) {
  if (at > in.size() || in.size() - at < 8)
    throw Error("distributed: the bytes of '" + what + "' end at " + std::to_string(in.size()) + " where a length was expected");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{in[at + static_cast<std::size_t>(i)]} << (8 * i);
  at += 8;
  return v;
}

std::string first_difference(const std::string& mine, const std::string& theirs) {
  std::istringstream a(mine), b(theirs);
  std::string la, lb;
  while (true) {
    const bool ga = static_cast<bool>(std::getline(a, la)), gb = static_cast<bool>(std::getline(b, lb));
    if (!ga && !gb) return "?";
    if (!ga) la = "(nothing)";
    if (!gb) lb = "(nothing)";
    if (la != lb) return "rank 0 has '" + lb + "' where this rank has '" + la + "'";
  }
}
}  // namespace

std::vector<std::uint8_t> state_to_bytes(const State& state) {
  const std::string sig = signature(state);
  std::vector<std::uint8_t> out;
  put_u64(out, sig.size());
  out.insert(out.end(), sig.begin(), sig.end());
  put_u64(out, static_cast<std::uint64_t>(state.num_bytes()));
  for (const auto& [path, var] : state) {
    const auto* p = static_cast<const std::uint8_t*>(var.value.raw_data());
    out.insert(out.end(), p, p + var.value.nbytes());
  }
  return out;
}

void state_from_bytes(State& state, const std::vector<std::uint8_t>& bytes, const std::string& what) {
  std::size_t at = 0;
  const std::uint64_t sig_len = get_u64(bytes, at, what);
  if (sig_len > bytes.size() - at)
    throw Error("distributed: the bytes of '" + what + "' announce a " + std::to_string(sig_len) + "-byte structure, but only " +
                std::to_string(bytes.size() - at) + " bytes follow");
  const std::string theirs(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin() + static_cast<std::ptrdiff_t>(at + sig_len));
  at += sig_len;
  const std::string mine = signature(state);
  if (mine != theirs)
    throw Error("distributed: '" + what + "' restored on rank 0 does not fit this rank's object: " + first_difference(mine, theirs) +
                "; every rank must build the same model, optimizer and loader (same configuration) before resuming");
  const std::uint64_t data_len = get_u64(bytes, at, what);
  if (data_len != state.num_bytes() || data_len != bytes.size() - at)
    throw Error("distributed: '" + what + "' carries " + std::to_string(bytes.size() - at) + " bytes of values (announced " +
                std::to_string(data_len) + "); expected " + std::to_string(state.num_bytes()));
  for (auto& [path, var] : state) {
    Array a = Array::empty(var.value.shape(), var.value.dtype());
    std::memcpy(a.mutable_raw_data(), bytes.data() + at, a.nbytes());
    at += a.nbytes();
    var.value = std::move(a);
  }
}

}  // namespace nnx::distributed::detail
