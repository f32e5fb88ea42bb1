// Tests of nnx/array.hpp: dtypes, shapes, factories, typed access, copy-on-write, abstract arrays.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nnx/nnx.hpp>

using nnx::Array;
using nnx::DType;

namespace {
template <class T> std::string str(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}
}  // namespace

TEST_CASE("dtype names, sizes and round trips") {
  struct Row {
    DType dtype;
    const char* name;
    std::size_t size;
    bool floating;
  };
  const Row rows[] = {{DType::float32, "float32", 4, true},
                      {DType::float64, "float64", 8, true},
                      {DType::int32, "int32", 4, false},
                      {DType::int64, "int64", 8, false},
                      {DType::uint32, "uint32", 4, false}};
  for (const Row& r : rows) {
    CAPTURE(r.name);
    CHECK(nnx::dtype_name(r.dtype) == r.name);
    CHECK(nnx::dtype_from_name(r.name) == r.dtype);
    CHECK(nnx::dtype_size(r.dtype) == r.size);
    CHECK(nnx::dtype_is_floating(r.dtype) == r.floating);
    CHECK(str(r.dtype) == r.name);
  }
  // The on-disk numbering is part of the contract.
  CHECK(static_cast<int>(DType::float32) == 0);
  CHECK(static_cast<int>(DType::float64) == 1);
  CHECK(static_cast<int>(DType::int32) == 2);
  CHECK(static_cast<int>(DType::int64) == 3);
  CHECK(static_cast<int>(DType::uint32) == 4);
}

TEST_CASE("dtype_from_name names the bad name and lists the valid ones") {
  for (const char* bad : {"float16", "Float32", "", "int"}) {
    CAPTURE(bad);
    try {
      (void)nnx::dtype_from_name(bad);
      FAIL("dtype_from_name accepted '" << bad << "'");
    } catch (const nnx::Error& e) {
      std::string msg = e.what();
      CHECK(msg.find("'" + std::string(bad) + "'") != std::string::npos);
      for (const char* valid : {"float32", "float64", "int32", "int64", "uint32"})
        CHECK(msg.find(valid) != std::string::npos);
    }
  }
}

TEST_CASE("shape_numel and shape_string") {
  CHECK(nnx::shape_numel({}) == 1);
  CHECK(nnx::shape_numel({0, 5}) == 0);
  CHECK(nnx::shape_numel({2, 3, 4}) == 24);
  CHECK(nnx::shape_string({}) == "[]");
  CHECK(nnx::shape_string({32, 4}) == "[32,4]");
  CHECK(nnx::ShapeDtype{{2, 3}, DType::int64}.str() == "int64[2,3]");
  CHECK_THROWS_WITH_AS(nnx::shape_numel({2, -1}), doctest::Contains("[2,-1]"), nnx::Error);
  CHECK_THROWS_WITH_AS(nnx::shape_numel({2, -1}), doctest::Contains(">= 0"), nnx::Error);
  const std::int64_t big = std::int64_t{1} << 62;
  CHECK_THROWS_WITH_AS(nnx::shape_numel({big, 4}), doctest::Contains("overflows"), nnx::Error);
  CHECK_THROWS_AS(Array::zeros({-3}, DType::float32), nnx::Error);
  // numel fits in int64 but numel * dtype_size overflows size_t: rejected rather than given a
  // wrapped (tiny) buffer.
  const std::int64_t huge = std::int64_t{1} << 62;
  CHECK_THROWS_WITH_AS(Array::zeros({huge}, DType::float32), doctest::Contains("[4611686018427387904]"), nnx::Error);
  CHECK_THROWS_WITH_AS(Array::abstract({huge / 4, 2}, DType::float64), doctest::Contains("float64"), nnx::Error);
  CHECK(Array::abstract({huge / 8}, DType::float32).nbytes() == std::size_t{1} << 61);
}

TEST_CASE_TEMPLATE("factories and typed access", T, float, double, std::int32_t, std::int64_t, std::uint32_t) {
  constexpr DType dt = nnx::dtype_of<T>();
  CHECK(nnx::dtype_size(dt) == sizeof(T));

  struct Factory {
    const char* name;
    Array array;
    T expected;
  };
  const Factory factories[] = {{"zeros", Array::zeros({2, 3}, dt), T(0)},
                               {"ones", Array::ones({2, 3}, dt), T(1)},
                               {"full", Array::full({2, 3}, dt, 7.0), T(7)}};
  for (const Factory& f : factories) {
    CAPTURE(f.name);
    CHECK(f.array.dtype() == dt);
    CHECK(f.array.shape() == nnx::Shape{2, 3});
    CHECK(f.array.ndim() == 2);
    CHECK(f.array.numel() == 6);
    CHECK(f.array.nbytes() == 6 * sizeof(T));
    CHECK_FALSE(f.array.is_abstract());
    const T* p = f.array.template data<T>();
    for (int i = 0; i < 6; ++i) CHECK(p[i] == f.expected);
  }

  Array v = Array::from_values<T>({3, 2}, {T(1), T(2), T(3), T(4), T(5), T(6)});
  CHECK(v.shape_dtype() == nnx::ShapeDtype{{3, 2}, dt});
  CHECK(v.dim(0) == 3);
  CHECK(v.dim(-1) == 2);
  CHECK_THROWS_WITH_AS(v.dim(2), doctest::Contains("axis 2"), nnx::Error);
  for (int i = 0; i < 6; ++i) CHECK(v.template data<T>()[i] == T(i + 1));
  CHECK(reinterpret_cast<std::uintptr_t>(v.raw_data()) % 64 == 0);  // aligned as documented
  CHECK_THROWS_WITH_AS(Array::from_values<T>({2, 3}, {T(1), T(2)}), doctest::Contains("got 2 values"), nnx::Error);

  Array s = Array::scalar<T>(T(42));
  CHECK(s.ndim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.template item<T>() == T(42));
  CHECK(Array::from_values<T>({1, 1}, {T(9)}).template item<T>() == T(9));
  CHECK_THROWS_WITH_AS((void)v.template item<T>(), doctest::Contains(v.shape_dtype().str().c_str()), nnx::Error);

  // Reading as another dtype names both dtypes.
  const DType other = dt == DType::float64 ? DType::float32 : DType::float64;
  Array w = Array::zeros({2}, other);
  const std::string expected_msg =
      "expected dtype " + std::string(nnx::dtype_name(dt)) + ", got " + std::string(nnx::dtype_name(other));
  CHECK_THROWS_WITH_AS((void)w.template data<T>(), doctest::Contains(expected_msg.c_str()), nnx::Error);
  CHECK_THROWS_WITH_AS((void)w.template mutable_data<T>(), doctest::Contains(expected_msg.c_str()), nnx::Error);
  CHECK_THROWS_WITH_AS((void)w.template item<T>(), doctest::Contains("expected"), nnx::Error);
}

TEST_CASE("dtype mismatch message") {
  Array a = Array::zeros({2}, DType::float32);
  CHECK_THROWS_WITH_AS((void)a.data<double>(), doctest::Contains("expected dtype float64, got float32"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)a.data<std::int32_t>(), doctest::Contains("expected dtype int32, got float32"),
                       nnx::Error);
}

TEST_CASE("copy-on-write: copies share until one side writes") {
  Array x = Array::from_values<float>({3}, {1.f, 2.f, 3.f});
  CHECK_FALSE(x.shares_buffer());
  float* own = x.mutable_data<float>();  // not shared: no copy
  CHECK(own == x.data<float>());

  Array y = x;
  CHECK(y.same_buffer(x));
  CHECK(x.shares_buffer());
  CHECK(y.shares_buffer());
  CHECK(y.data<float>() == x.data<float>());

  y.mutable_data<float>()[0] = 10.f;  // detaches y first
  CHECK_FALSE(y.same_buffer(x));
  CHECK_FALSE(x.shares_buffer());
  CHECK_FALSE(y.shares_buffer());
  CHECK(x.data<float>()[0] == 1.f);
  CHECK(y.data<float>()[0] == 10.f);
  CHECK(y.data<float>()[1] == 2.f);
  CHECK(x.data<float>() == own);  // the original kept its buffer

  // Copy assignment shares too; mutable_raw_data is copy-on-write as well.
  Array z;
  z = x;
  CHECK(z.same_buffer(x));
  static_cast<float*>(z.mutable_raw_data())[2] = -1.f;
  CHECK(x.data<float>()[2] == 3.f);
  CHECK(z.data<float>()[2] == -1.f);
}

TEST_CASE("copy is deep, astype converts") {
  Array x = Array::from_values<float>({2, 2}, {1.5f, -2.5f, 3.f, 4.75f});
  Array c = x.copy();
  CHECK_FALSE(c.same_buffer(x));
  CHECK_FALSE(x.shares_buffer());
  CHECK(nnx::array_equal(c, x));
  c.mutable_data<float>()[0] = 0.f;
  CHECK(x.data<float>()[0] == 1.5f);

  Array i = x.astype(DType::int32);
  CHECK(i.shape_dtype() == nnx::ShapeDtype{{2, 2}, DType::int32});
  const std::int32_t* ip = i.data<std::int32_t>();
  CHECK(ip[0] == 1);
  CHECK(ip[1] == -2);
  CHECK(ip[2] == 3);
  CHECK(ip[3] == 4);

  Array d = i.astype(DType::float64);
  CHECK(d.data<double>()[1] == -2.0);

  Array same = x.astype(DType::float32);
  CHECK(nnx::array_equal(same, x));
  CHECK_FALSE(same.same_buffer(x));  // astype always copies

  Array abs = Array::abstract({4}, DType::float32).astype(DType::int64);
  CHECK(abs.is_abstract());
  CHECK(abs.dtype() == DType::int64);
}

TEST_CASE("reshape shares the buffer and checks the element count") {
  Array x = Array::from_values<std::int64_t>({2, 3}, {0, 1, 2, 3, 4, 5});
  Array r = x.reshape({3, 2});
  CHECK(r.shape() == nnx::Shape{3, 2});
  CHECK(r.same_buffer(x));
  CHECK(r.data<std::int64_t>()[5] == 5);
  r.mutable_data<std::int64_t>()[0] = 100;  // copy-on-write applies to reshaped views
  CHECK(x.data<std::int64_t>()[0] == 0);
  CHECK(x.reshape({6}).numel() == 6);
  CHECK(x.reshape({1, 6, 1}).ndim() == 3);

  try {
    (void)x.reshape({4});
    FAIL("reshape to a wrong element count succeeded");
  } catch (const nnx::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("int64[2,3]") != std::string::npos);
    CHECK(msg.find("[4]") != std::string::npos);
  }
}

TEST_CASE("abstract arrays have a shape and dtype and no data") {
  Array a = Array::abstract({1'000'000'000}, DType::float32);
  CHECK(a.is_abstract());
  CHECK(a.numel() == 1'000'000'000);
  CHECK(a.nbytes() == std::size_t{4'000'000'000});
  CHECK_FALSE(a.shares_buffer());
  CHECK_THROWS_WITH_AS((void)a.raw_data(), doctest::Contains("abstract"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)a.raw_data(), doctest::Contains("float32[1000000000]"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)a.mutable_raw_data(), doctest::Contains("abstract"), nnx::Error);
  CHECK_THROWS_WITH_AS((void)a.data<float>(), doctest::Contains("abstract"), nnx::Error);

  Array b = a;
  CHECK_FALSE(b.same_buffer(a));  // no buffer to share
  CHECK(a.copy().is_abstract());
  CHECK(a.reshape({1000, 1'000'000}).is_abstract());

  Array concrete = Array::ones({2, 2}, DType::float64);
  Array as = concrete.as_abstract();
  CHECK(as.is_abstract());
  CHECK(as.shape_dtype() == concrete.shape_dtype());
  CHECK(Array::abstract(nnx::ShapeDtype{{3}, DType::uint32}).shape_dtype().str() == "uint32[3]");

  Array placeholder;
  CHECK(placeholder.is_abstract());
  CHECK(placeholder.shape() == nnx::Shape{0});
  CHECK(placeholder.numel() == 0);
}

TEST_CASE("AbstractScope makes every factory abstract and restores the previous mode") {
  REQUIRE_FALSE(nnx::AbstractScope::active());
  Array before = Array::ones({2}, DType::float32);
  {
    nnx::AbstractScope scope;
    CHECK(nnx::AbstractScope::active());
    CHECK(Array::zeros({2, 3}, DType::float32).is_abstract());
    CHECK(Array::ones({2}, DType::int32).is_abstract());
    CHECK(Array::full({2}, DType::float64, 3.0).is_abstract());
    CHECK(Array::empty({5}, DType::int64).is_abstract());
    CHECK(Array::from_values<float>({2}, {1.f, 2.f}).is_abstract());
    CHECK(Array::scalar<std::uint32_t>(3).is_abstract());
    CHECK(Array::zeros({2, 3}, DType::float32).shape_dtype().str() == "float32[2,3]");
    CHECK(before.data<float>()[0] == 1.f);  // existing arrays keep their data
    {
      nnx::AbstractScope inner;
      CHECK(nnx::AbstractScope::active());
    }
    CHECK(nnx::AbstractScope::active());  // the inner scope restored "active", not "inactive"
  }
  CHECK_FALSE(nnx::AbstractScope::active());
  CHECK_FALSE(Array::zeros({2}, DType::float32).is_abstract());

  try {
    nnx::AbstractScope scope;
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(nnx::AbstractScope::active());

  // eval_shape is built on it.
  Array e = nnx::eval_shape([] { return Array::ones({4}, DType::float32); });
  CHECK(e.is_abstract());
  CHECK_FALSE(nnx::AbstractScope::active());
}

TEST_CASE("array_equal") {
  Array a = Array::from_values<float>({2, 2}, {1.f, 2.f, 3.f, 4.f});
  Array b = Array::from_values<float>({2, 2}, {1.f, 2.f, 3.f, 4.f});
  Array c = Array::from_values<float>({2, 2}, {1.f, 2.f, 3.f, 5.f});
  CHECK(nnx::array_equal(a, a));
  CHECK(nnx::array_equal(a, b));
  CHECK_FALSE(nnx::array_equal(a, c));
  CHECK_FALSE(nnx::array_equal(a, a.reshape({4})));            // shape differs
  CHECK_FALSE(nnx::array_equal(a, a.astype(DType::float64)));  // dtype differs
  CHECK(nnx::array_equal(a.as_abstract(), b.as_abstract()));
  CHECK_FALSE(nnx::array_equal(a, a.as_abstract()));
  CHECK_FALSE(nnx::array_equal(a.as_abstract(), a));
  CHECK_FALSE(nnx::array_equal(a.as_abstract(), Array::abstract({4}, DType::float32)));
}

TEST_CASE("max_abs_difference") {
  Array a = Array::from_values<float>({3}, {1.f, 2.f, 3.f});
  Array b = Array::from_values<float>({3}, {1.f, 2.5f, 1.f});
  CHECK(nnx::max_abs_difference(a, a) == 0.0);
  CHECK(nnx::max_abs_difference(a, b) == 2.0);
  CHECK(nnx::max_abs_difference(b, a) == 2.0);
  Array i = Array::from_values<std::int32_t>({3}, {1, 2, 7});
  CHECK(nnx::max_abs_difference(a, i) == 4.0);  // dtypes may differ
  Array n = Array::from_values<double>({3}, {1.0, std::numeric_limits<double>::quiet_NaN(), 3.0});
  CHECK(std::isnan(nnx::max_abs_difference(a, n)));
  try {
    (void)nnx::max_abs_difference(a, Array::zeros({2, 2}, DType::float32));
    FAIL("shape mismatch accepted");
  } catch (const nnx::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("float32[3]") != std::string::npos);
    CHECK(msg.find("float32[2,2]") != std::string::npos);
  }
}

TEST_CASE("printing arrays") {
  CHECK(str(Array::zeros({2, 3}, DType::float32)).rfind("float32[2,3]", 0) == 0);
  CHECK(str(Array::from_values<float>({2}, {1.5f, -2.f})) == "float32[2] {1.5, -2}");
  CHECK(str(Array::from_values<std::uint32_t>({3}, {1u, 2u, 4000000000u})) == "uint32[3] {1, 2, 4000000000}");
  CHECK(str(Array::scalar<std::int64_t>(-7)) == "int64[] {-7}");
  CHECK(str(Array::zeros({10}, DType::int32)) == "int32[10] {0, 0, 0, 0, 0, 0, 0, 0, ...}");
  CHECK(str(Array::abstract({2, 3}, DType::float64)) == "float64[2,3] (abstract)");
  CHECK(str(nnx::ShapeDtype{{4}, DType::int32}) == "int32[4]");
}
