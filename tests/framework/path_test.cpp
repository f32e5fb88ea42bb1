// Tests of nnx/path.hpp: typed keys, parsing, printing, ordering and prefix operations.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

using nnx::Path;
using nnx::PathKey;

TEST_CASE("PathKey: names and indices") {
  PathKey name("kernel");
  PathKey index(3);
  CHECK(name.is_name());
  CHECK_FALSE(name.is_index());
  CHECK(name.name() == "kernel");
  CHECK(name.str() == "kernel");
  CHECK(index.is_index());
  CHECK(index.index() == 3);
  CHECK(index.str() == "3");
  CHECK(PathKey(std::size_t{3}) == index);
  CHECK(PathKey(std::int64_t{3}) == index);
  CHECK_FALSE(PathKey("3") == index);  // a name that looks like a number is still a name
  CHECK_THROWS_WITH_AS((void)name.index(), doctest::Contains("'kernel'"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)index.name(), doctest::Contains("3 is an index"), nnx::Error);
}

TEST_CASE("Path::parse") {
  Path p = Path::parse("layers/0/kernel");
  REQUIRE(p.size() == 3);
  CHECK(p[0].is_name());
  CHECK(p[0].name() == "layers");
  CHECK(p[1].is_index());
  CHECK(p[1].index() == 0);
  CHECK(p[2].name() == "kernel");
  CHECK(p == Path{"layers", 0, "kernel"});
  CHECK_FALSE(p == Path{"layers", "0", "kernel"});
  CHECK(p.back() == PathKey("kernel"));

  CHECK(Path::parse("").empty());
  CHECK(Path::parse("").size() == 0);
  CHECK(Path::parse("a") == Path{"a"});
  CHECK(Path::parse("12") == Path{12});
  CHECK(Path::parse("x1/1x") == Path{"x1", "1x"});  // mixed components stay names

  for (const char* bad : {"a//b", "/a", "a/", "/"}) {
    CAPTURE(bad);
    std::string quoted = std::string(1, '\'') + bad;
    quoted += '\'';
    CHECK_THROWS_WITH_AS(Path::parse(bad), doctest::Contains(quoted.c_str()), nnx::Error);
  }
}

TEST_CASE("Path::str and printing") {
  CHECK(Path{"layers", 10, "bias"}.str() == "layers/10/bias");
  CHECK(Path{}.str().empty());
  for (const char* text : {"a", "layers/0/kernel", "dropout/rngs/key", "x/3/4/y"}) {
    CAPTURE(text);
    CHECK(Path::parse(text).str() == text);
  }
  std::ostringstream os;
  os << Path{"a", 1} << " " << PathKey(7);
  CHECK(os.str() == "a/1 7");
}

TEST_CASE("Path ordering: integers before names, integers numerically") {
  CHECK(PathKey(2) < PathKey(10));
  CHECK(PathKey(999) < PathKey("a"));
  CHECK(PathKey("B") < PathKey("a"));  // names compare bytewise
  CHECK(Path::parse("layers/2") < Path::parse("layers/10"));
  CHECK(Path::parse("layers") < Path::parse("layers/0"));  // a prefix sorts first
  CHECK(Path::parse("a/0") < Path::parse("a/b"));

  std::vector<Path> paths;
  for (const char* t : {"norms/0/var", "layers/10/kernel", "layers/2/bias", "layers/2/kernel", "dropout", "layers/x",
                        "layers/10/bias", "layers/9"})
    paths.push_back(Path::parse(t));
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> sorted;
  for (const auto& p : paths) sorted.push_back(p.str());
  CHECK(sorted == std::vector<std::string>{"dropout", "layers/2/bias", "layers/2/kernel", "layers/9", "layers/10/bias",
                                           "layers/10/kernel", "layers/x", "norms/0/var"});
}

TEST_CASE("starts_with, drop_front, contains and operator/") {
  Path p{"layers", 1, "kernel"};
  CHECK(p.starts_with(Path{}));
  CHECK(p.starts_with(Path{"layers"}));
  CHECK(p.starts_with(Path{"layers", 1}));
  CHECK(p.starts_with(p));
  CHECK_FALSE(p.starts_with(Path{"layers", "1"}));
  CHECK_FALSE(p.starts_with(Path{"layer"}));
  CHECK_FALSE(p.starts_with(Path{"layers", 1, "kernel", "x"}));

  CHECK(p.drop_front(0) == p);
  CHECK(p.drop_front(1) == Path{1, "kernel"});
  CHECK(p.drop_front(3).empty());
  CHECK(p.drop_front(10).empty());

  CHECK(p.contains(1));
  CHECK(p.contains("kernel"));
  CHECK_FALSE(p.contains("1"));
  CHECK_FALSE(p.contains(0));

  CHECK(Path{"layers"} / 1 / "kernel" == p);
  CHECK(Path{"layers"} / Path{1, "kernel"} == p);
  CHECK(Path{} / Path{} == Path{});
  Path q = p;
  q.pop_back();
  q.push_back("bias");
  CHECK(q.str() == "layers/1/bias");
  CHECK(p.str() == "layers/1/kernel");  // operator/ and copies leave the original alone
}
