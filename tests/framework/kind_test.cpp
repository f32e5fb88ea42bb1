// Variable kinds named in files: known names resolve to the program's kinds; unknown ones are
// registered only when plausible, so crafted files cannot grow the registry with arbitrary text.
#include <doctest/doctest.h>

#include <nnx/error.hpp>
#include <nnx/variable.hpp>
#include <string>

TEST_CASE("Kind::from_name: built-in kinds by name, a new plausible name registered once, implausible names refused") {
  CHECK(nnx::Kind::from_name("Param") == nnx::Param::static_kind());
  CHECK(nnx::Kind::from_name("BatchStat").is_a(nnx::BatchStat::static_kind()));
  const nnx::Kind user = nnx::Kind::from_name("my_lib::Frozen-2.v1");
  CHECK(user.name() == "my_lib::Frozen-2.v1");
  CHECK(nnx::Kind::from_name("my_lib::Frozen-2.v1") == user);  // one registration
  for (const std::string& bad : {std::string(""), std::string("two words"), std::string("new\nline"), std::string(129, 'k'),
                                 std::string("caf\xc3\xa9")}) {
    CAPTURE(bad.substr(0, 20));
    CHECK_THROWS_AS((void)nnx::Kind::from_name(bad), nnx::Error);
  }
}
