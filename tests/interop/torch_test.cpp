// The PyTorch convention: nn.Sequential names and layouts of an MLP, both ways, and one error
// listing every tensor that does not fit.
#include <doctest/doctest.h>

#include "fixtures.hpp"

using namespace interop_test;

namespace {

struct TorchTestModel {
  nnx::models::MLPConfig config{.in = 3, .hidden = {5, 4}, .out = 2, .dropout = 0.2, .batch_norm = true};
  nnx::Rngs rngs{7};
  nnx::models::MLP model{config, rngs};
  interop::TorchConvention convention = interop::torch_sequential(config);
};

std::map<std::string, nnx::ShapeDtype> torch_shapes(const std::vector<interop::NamedTensor>& tensors) {
  std::map<std::string, nnx::ShapeDtype> out;
  for (const auto& t : tensors) out[t.name] = t.value.shape_dtype();
  return out;
}

}  // namespace

TEST_CASE("torch: an MLP exports as nn.Sequential(Linear, BatchNorm1d, ReLU, Dropout, ..., Linear) names and layouts") {
  TorchTestModel m;
  const auto tensors = interop::to_torch(nnx::state(m.model), m.convention);
  using SD = nnx::ShapeDtype;
  const std::map<std::string, SD> expected = {
      {"0.weight", SD{{5, 3}, DType::float32}},  {"0.bias", SD{{5}, DType::float32}},
      {"1.weight", SD{{5}, DType::float32}},     {"1.bias", SD{{5}, DType::float32}},
      {"1.running_mean", SD{{5}, DType::float32}}, {"1.running_var", SD{{5}, DType::float32}},
      {"1.num_batches_tracked", SD{{}, DType::int64}},
      {"4.weight", SD{{4, 5}, DType::float32}},  {"4.bias", SD{{4}, DType::float32}},
      {"5.weight", SD{{4}, DType::float32}},     {"5.bias", SD{{4}, DType::float32}},
      {"5.running_mean", SD{{4}, DType::float32}}, {"5.running_var", SD{{4}, DType::float32}},
      {"5.num_batches_tracked", SD{{}, DType::int64}},
      {"8.weight", SD{{2, 4}, DType::float32}},  {"8.bias", SD{{2}, DType::float32}},
  };
  CHECK(torch_shapes(tensors) == expected);  // the dropout's RNG state is not exported
  // The weight is the kernel transposed, element by element.
  const State s = nnx::state(m.model);
  const Array& kernel = s.at("layers/1/kernel").value;
  for (const auto& t : tensors)
    if (t.name == "4.weight")
      for (int i = 0; i < 5; ++i)
        for (int o = 0; o < 4; ++o) CHECK(t.value.data<float>()[o * 5 + i] == kernel.data<float>()[i * 4 + o]);
}

TEST_CASE("torch: the layouts of other MLPs (no batch norm, no dropout, no hidden layer)") {
  struct Case {
    nnx::models::MLPConfig config;
    std::vector<std::string> linear_prefixes;
  };
  const Case cases[] = {
      {{.in = 2, .hidden = {3, 3}, .out = 1}, {"0", "2", "4"}},
      {{.in = 2, .hidden = {3}, .out = 1, .dropout = 0.5}, {"0", "3"}},
      {{.in = 2, .hidden = {3}, .out = 1, .batch_norm = true}, {"0", "3"}},
      {{.in = 2, .hidden = {}, .out = 1}, {"0"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> linears;
    for (const auto& l : interop::torch_sequential(c.config).layers)
      if (l.type == interop::TorchLayerType::linear) linears.push_back(l.torch);
    CHECK(linears == c.linear_prefixes);
  }
}

TEST_CASE("torch: export then import gives the model's Params and BatchStats back bitwise, and update accepts them") {
  TorchTestModel m;
  const State s = nnx::state(m.model);
  const State back = interop::from_torch(interop::to_torch(s, m.convention), s.as_abstract(), m.convention);
  CHECK(nnx::state_equal(back, s.filter(nnx::Not(nnx::RngState{}))));
  TempDir dir("nnx-torch");
  m.convention.num_batches_tracked = 42;
  interop::save_torch_safetensors(dir.file("t.safetensors"), s, m.convention);
  const interop::SafetensorsFile f = interop::read_safetensors(dir.file("t.safetensors"));
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  for (const auto& t : f.tensors)
    if (t.name.ends_with("num_batches_tracked")) CHECK(t.value.item<std::int64_t>() == 42);
  TorchTestModel other;  // another seed's weights, replaced by the file's
  other.rngs = nnx::Rngs(99);
  other.model = nnx::models::MLP(other.config, other.rngs);
  nnx::update(other.model, interop::load_torch_safetensors(dir.file("t.safetensors"), nnx::state(other.model), m.convention));
  CHECK(nnx::state_equal(nnx::state(other.model).filter(nnx::Param{}), s.filter(nnx::Param{})));
}

TEST_CASE("torch: renames strip a prefix on import and add one on export") {
  TorchTestModel m;
  const State s = nnx::state(m.model);
  m.convention.export_renames = {interop::TorchRename::add_prefix("model.")};
  const auto tensors = interop::to_torch(s, m.convention);
  for (const auto& t : tensors) CHECK(t.name.starts_with("model."));
  m.convention.import_renames = {interop::TorchRename::strip_prefix("model.")};
  CHECK(nnx::state_equal(interop::from_torch(tensors, s, m.convention), s.filter(nnx::Not(nnx::RngState{}))));
  m.convention.import_renames = {{"^model\\.(\\d+)\\.", "$1."}};  // the same with a regex of one's own
  CHECK(interop::from_torch(tensors, s, m.convention).size() == 14);
  m.convention.import_renames = {{"(", ""}};
  const auto e = expect_thrown<nnx::Error>([&] { (void)interop::from_torch(tensors, s, m.convention); }, "nnx::Error");
  CHECK_CONTAINS(e.what(), "the pattern '(' is not a valid regular expression");
}

TEST_CASE("torch: one StructureError lists every tensor that maps to nothing, does not fit, or is missing") {
  TorchTestModel m;
  const State s = nnx::state(m.model);
  std::vector<interop::NamedTensor> tensors = interop::to_torch(s, m.convention);
  std::erase_if(tensors, [](const interop::NamedTensor& t) { return t.name == "5.running_var"; });  // missing
  for (auto& t : tensors) {
    if (t.name == "4.weight") t.value = Array::zeros({4, 6}, DType::float32);  // another width
    if (t.name == "8.bias") t.value = Array::zeros({2}, DType::float64);       // another dtype
  }
  tensors.push_back({"classifier.weight", Array::zeros({2, 2}, DType::float32)});  // maps to nothing
  tensors.push_back({"0.weight", Array::zeros({5, 3}, DType::float32)});           // a second time
  const nnx::StructureError e =
      expect_structure_error([&] { (void)interop::from_torch(tensors, s, m.convention, "'torch.safetensors'"); });
  REQUIRE(e.differences().size() == 5);
  const std::string msg = e.what();
  CHECK_CONTAINS(msg, "importing PyTorch weights from 'torch.safetensors'");
  CHECK_CONTAINS(msg, "classifier/weight: unexpected (found float32[2,2] (torch 'classifier.weight'), which maps to no path");
  CHECK_CONTAINS(msg, "layers/0/kernel: unexpected (found float32[5,3] (torch '0.weight'), a second tensor for this path");
  CHECK_CONTAINS(msg, "layers/1/kernel: expected float32[5,4], got float32[6,4] (torch '4.weight' float32[4,6], transposed)");
  CHECK_CONTAINS(msg, "layers/2/bias: expected float32[2], got float64[2] (torch '8.bias')");
  CHECK_CONTAINS(msg, "norms/1/var: missing (expected float32[4] from torch '5.running_var'");
  CHECK_CONTAINS(msg, "check the TorchConvention");
}
