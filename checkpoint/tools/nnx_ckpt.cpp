// nnx-ckpt — inspect, verify, fingerprint and compare checkpoint directories.
//
//   nnx-ckpt list DIR                          steps, commit time, size, metrics
//   nnx-ckpt show DIR [--step N]               items, paths, kinds, dtypes, shapes, counts
//   nnx-ckpt verify DIR [--step N]             re-reads every array, checks every checksum
//   nnx-ckpt verify DIR --latest-intact        the newest step that verifies (exit 1: none)
//   nnx-ckpt digest DIR [--step N] [--item I]  a hash of paths and values only
//   nnx-ckpt diff DIR STEP_A STEP_B            paths added, removed, changed
//   nnx-ckpt plot DIR -o curves.svg            loss and accuracy curves from DIR/metrics.jsonl
//   nnx-ckpt export DIR -o model.safetensors   a State item to safetensors or npz (--torch: PyTorch's names)
//   nnx-ckpt import FILE --into DIR --step N   safetensors or npz into a committed step (export_import.hpp)
//
// Exit status: 0 success; 1 verify found damage or diff found differences; 2 bad usage or an
// unreadable directory. The directory is opened read-only: a training run may write meanwhile.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nnx/checkpoint/format.hpp>
#include <nnx/checkpoint/manager.hpp>
#include <nnx/checkpoint/metrics_log.hpp>
#include <fstream>
#include <sstream>

#include "export_import.hpp"
#include "plot.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ckpt = nnx::checkpoint;

namespace {

std::string utc(std::int64_t unix_ms) {
  const auto t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

ckpt::CheckpointManager open(const std::string& dir) { return ckpt::CheckpointManager(dir, {.read_only = true}); }

std::vector<std::int64_t> chosen_steps(const ckpt::CheckpointManager& m, std::optional<std::int64_t> step, bool all_by_default) {
  if (step) {
    (void)m.metadata(*step);  // throws naming the available steps when absent
    return {*step};
  }
  if (all_by_default) return m.all_steps();
  const auto latest = m.latest_step();
  if (!latest)
    throw ckpt::CheckpointError(ckpt::ErrorCode::not_found, "'" + m.directory() + "' holds no committed checkpoint");
  return {*latest};
}

// Damaged step directories after the table: listed ones (their row says DAMAGED) and the others.
void print_damaged(const std::vector<ckpt::DamagedStep>& damaged) {
  if (damaged.empty()) return;
  std::cout << "\ndamaged step directories (" << damaged.size() << "; 'nnx-ckpt verify' checks every byte):\n";
  for (const auto& d : damaged)
    std::cout << "  " << d.name << (d.listed ? " (listed as step " + std::to_string(d.step) + ")" : " (not listed)") << ": "
              << d.reason << "\n";
}

int cmd_list(const std::string& dir) {
  auto m = open(dir);
  const auto steps = m.all_steps();
  const auto damaged = m.damaged_steps();
  if (steps.empty()) std::cout << "no committed checkpoints in " << dir << "\n";
  else std::printf("%-10s  %-19s  %10s  %s\n", "step", "committed (UTC)", "size", "metrics");
  for (std::int64_t s : steps) {
    ckpt::StepMetadata md;
    try {
      md = m.metadata(s);
    } catch (const ckpt::CheckpointError& e) {
      if (!m.is_committed(s)) continue;  // deleted by a writer since it was listed: no longer a step, not an error
      std::printf("%-10lld  DAMAGED: %s\n", static_cast<long long>(s), e.what());
      continue;
    }
    std::string metrics;
    for (const auto& [k, v] : md.metrics) {
      std::ostringstream o;
      o << k << "=" << std::setprecision(6) << v;
      metrics += (metrics.empty() ? "" : "  ") + o.str();
    }
    std::printf("%-10lld  %-19s  %10s  %s\n", static_cast<long long>(s), utc(md.created_unix_ms).c_str(),
                nnx::format_bytes(md.bytes()).c_str(), metrics.c_str());
  }
  try {
    if (auto best = m.best_step()) std::cout << "best step: " << *best << " (" << m.best_policy() << ")\n";
  } catch (const ckpt::CheckpointError& e) {
    std::cout << "best step: unknown: " << e.what() << "\n";
  }
  print_damaged(damaged);
  return 0;
}

int cmd_show(const std::string& dir, std::optional<std::int64_t> step) {
  auto m = open(dir);
  for (std::int64_t s : chosen_steps(m, step, false)) {
    const ckpt::StepMetadata md = m.metadata(s);
    std::cout << "step " << s << " (" << m.step_directory(s) << "), committed " << utc(md.created_unix_ms) << " UTC, "
              << nnx::format_bytes(md.bytes()) << "\n";
    for (const auto& item : md.items) {
      std::cout << "\nitem '" << item.name << "' (" << ckpt::item_type_name(item.type) << ", " << item.file << ")\n";
      if (item.type == ckpt::ItemType::json) {
        std::cout << m.restore_json(s, item.name).text() << "\n";
        continue;
      }
      nnx::State structure;  // from the index only (checked against the manifest): no array data is read
      const ckpt::ArrayFileReader reader = m.array_file(s, item.name);
      for (const auto& e : reader.index().entries)
        structure.set(e.path, nnx::Variable(nnx::Kind::from_name(e.kind), nnx::Array::abstract(e.shape, e.dtype), e.metadata));
      std::ostringstream tree;
      tree << structure;
      std::string text = tree.str();
      for (const char* noise : {" (abstract: no memory held)", "  (abstract)"})  // stored, not abstract
        for (auto pos = text.find(noise); pos != std::string::npos; pos = text.find(noise)) text.erase(pos, std::strlen(noise));
      std::cout << text;
    }
  }
  return 0;
}

void print_check(const ckpt::StepCheck& c) {
  if (c.deleted) {
    std::cout << "step " << c.step << ": deleted by a writer while being verified (skipped)\n";
    return;
  }
  if (c.ok()) {
    std::cout << "step " << c.step << ": ok (" << c.arrays << " arrays, every checksum matches)\n";
    return;
  }
  std::cout << "step " << c.step << ": DAMAGED\n";
  for (const auto& p : c.problems) std::cout << "  " << p << "\n";
}

// --latest-intact: newest first, until a step verifies; prints it last ("latest intact step: N").
int cmd_latest_intact(const std::string& dir) {
  auto m = open(dir);
  const auto steps = m.all_steps();
  for (auto s = steps.rbegin(); s != steps.rend(); ++s) {
    const ckpt::StepCheck c = m.verify(*s);
    print_check(c);
    if (c.ok()) {
      std::cout << "latest intact step: " << *s << "\n";
      return 0;
    }
  }
  std::cout << "no intact step in " << dir << "\n";
  return 1;
}

int cmd_verify(const std::string& dir, std::optional<std::int64_t> step, bool latest_intact) {
  if (latest_intact) return cmd_latest_intact(dir);
  auto m = open(dir);
  int failures = 0;
  const auto steps = chosen_steps(m, step, true);
  for (std::int64_t s : steps) {
    const ckpt::StepCheck c = m.verify(s);
    failures += !c.ok() && !c.deleted;
    print_check(c);
  }
  if (steps.empty()) std::cout << "no committed checkpoints in " << dir << "\n";
  return failures ? 1 : 0;
}

void hash_path(XXH3_state_t* h, const nnx::Path& path) {
  const std::uint32_t n = static_cast<std::uint32_t>(path.size());
  XXH3_128bits_update(h, &n, sizeof n);
  for (const auto& k : path) {
    const std::uint8_t tag = k.is_index() ? 1 : 0;
    XXH3_128bits_update(h, &tag, 1);
    if (k.is_index()) {
      const std::int64_t i = k.index();
      XXH3_128bits_update(h, &i, sizeof i);
    } else {
      const std::uint32_t len = static_cast<std::uint32_t>(k.name().size());
      XXH3_128bits_update(h, &len, sizeof len);
      XXH3_128bits_update(h, k.name().data(), len);
    }
  }
}

int cmd_digest(const std::string& dir, std::optional<std::int64_t> step, const std::string& only_item) {
  auto m = open(dir);
  const std::int64_t s = chosen_steps(m, step, false).front();
  XXH3_state_t h;
  XXH3_128bits_reset(&h);
  bool found = only_item.empty();
  for (const auto& item : m.metadata(s).items) {  // sorted by name
    if (item.type != ckpt::ItemType::state || (!only_item.empty() && item.name != only_item)) continue;
    found = true;
    XXH3_128bits_update(&h, item.name.data(), item.name.size() + 1);
    const ckpt::ArrayFileReader reader = m.array_file(s, item.name);  // checked against the manifest
    for (const auto& e : reader.index().entries) {
      hash_path(&h, e.path);
      const std::uint8_t dtype = static_cast<std::uint8_t>(e.dtype);
      XXH3_128bits_update(&h, &dtype, 1);
      for (std::int64_t d : e.shape) XXH3_128bits_update(&h, &d, sizeof d);
      const nnx::Array a = reader.read(e);  // checksum verified
      XXH3_128bits_update(&h, a.raw_data(), a.nbytes());
    }
  }
  if (!found)
    throw ckpt::CheckpointError(ckpt::ErrorCode::not_found, "step " + std::to_string(s) + " has no State item '" + only_item + "'");
  const XXH128_hash_t d = XXH3_128bits_digest(&h);
  std::printf("%016llx%016llx\n", static_cast<unsigned long long>(d.high64), static_cast<unsigned long long>(d.low64));
  return 0;
}

int cmd_diff(const std::string& dir, std::int64_t a, std::int64_t b) {
  auto m = open(dir);
  const auto ma = m.metadata(a), mb = m.metadata(b);
  int differences = 0;
  std::map<std::string, std::pair<const ckpt::ItemInfo*, const ckpt::ItemInfo*>> items;
  for (const auto& i : ma.items) items[i.name].first = &i;
  for (const auto& i : mb.items) items[i.name].second = &i;
  for (const auto& [name, pair] : items) {
    const auto [ia, ib] = pair;
    if (!ia || !ib) {
      std::cout << (ia ? "- item " : "+ item ") << name << "\n";
      ++differences;
      continue;
    }
    if (ia->type != ib->type) {
      std::cout << "~ item " << name << " (" << ckpt::item_type_name(ia->type) << " item, then "
                << ckpt::item_type_name(ib->type) << " item)\n";
      ++differences;
      continue;
    }
    if (ia->type == ckpt::ItemType::json) {
      const bool same = m.restore_json(a, name).text() == m.restore_json(b, name).text();
      if (!same) {
        std::cout << "~ item " << name << " (JSON differs)\n";
        ++differences;
      }
      continue;
    }
    const nnx::State sa = m.restore_state(a, name), sb = m.restore_state(b, name);
    for (const auto& d : nnx::compare_structure(sa, sb)) {
      const char* mark = d.what == nnx::Difference::What::missing ? "- " : d.what == nnx::Difference::What::unexpected ? "+ " : "~ ";
      std::cout << mark << name << ": " << d.str() << "\n";
      ++differences;
    }
    for (const auto& [path, va] : sa) {
      if (!sb.contains(path)) continue;
      const auto& vb = sb.at(path);
      if (!(va.value.shape() == vb.value.shape()) || nnx::array_equal(va.value, vb.value)) continue;
      std::cout << "~ " << name << ": " << path.str() << " values differ, max |a - b| = " << std::setprecision(6)
                << nnx::max_abs_difference(va.value, vb.value) << "\n";
      ++differences;
    }
  }
  std::cout << (differences ? std::to_string(differences) + " difference(s)" : std::string("identical")) << " between step "
            << a << " and step " << b << "\n";
  return differences ? 1 : 0;
}

// Whether anything (file, link, FIFO, ...) is at `path`; what it is, read_metrics_log checks.
bool anything_at(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

int cmd_plot(const std::string& dir, const std::string& out) {
  const std::string path = dir + "/" + ckpt::kMetricsLogFile;
  if (!anything_at(path))
    throw ckpt::CheckpointError(ckpt::ErrorCode::not_found, "'" + path + "' does not exist: nothing to plot; ckpt::Resumable "
                                                             "writes it (run.log(step, metrics)), or write one with ckpt::MetricsLog");
  const auto log = ckpt::read_metrics_log(path);
  std::optional<std::int64_t> best;
  try {
    best = open(dir).best_step();
  } catch (const ckpt::CheckpointError& e) {
    std::cerr << "nnx-ckpt: no best step marked: " << e.what() << "\n";
  }
  const std::string svg = nnx_ckpt::plot_svg(log, best, dir);
  std::ofstream file(out, std::ios::trunc);
  file << svg;
  file.close();
  if (!file) throw std::runtime_error("cannot write '" + out + "'");
  std::cout << "wrote " << out << " (" << log.size() << " log entries)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nnx-ckpt: inspect, verify, fingerprint and compare nnx checkpoint directories"};
  app.require_subcommand(1);
  std::string dir, item;
  std::optional<std::int64_t> step;
  std::int64_t step_a = 0, step_b = 0;

  auto* list = app.add_subcommand("list", "steps with commit time, size and metrics");
  list->add_option("DIR", dir, "checkpoint directory")->required();
  auto* show = app.add_subcommand("show", "items, paths, kinds, dtypes, shapes and counts of a step (default: latest)");
  show->add_option("DIR", dir, "checkpoint directory")->required();
  show->add_option("--step", step, "the step (default: the latest)");
  auto* verify = app.add_subcommand("verify", "re-read every array and check every checksum (default: every step)");
  verify->add_option("DIR", dir, "checkpoint directory")->required();
  verify->add_option("--step", step, "only this step");
  bool latest_intact = false;
  verify->add_flag("--latest-intact", latest_intact, "newest first, until a step verifies; prints 'latest intact step: N'");
  auto* digest = app.add_subcommand("digest", "hash of paths and array values only (default: latest step)");
  digest->add_option("DIR", dir, "checkpoint directory")->required();
  digest->add_option("--step", step, "the step (default: the latest)");
  digest->add_option("--item", item, "only this item (default: every State item)");
  auto* diff = app.add_subcommand("diff", "paths added, removed and changed between two steps");
  diff->add_option("DIR", dir, "checkpoint directory")->required();
  diff->add_option("STEP_A", step_a, "first step")->required();
  diff->add_option("STEP_B", step_b, "second step")->required();

  std::string out;
  auto* plot = app.add_subcommand("plot", "loss and accuracy curves from DIR/metrics.jsonl as SVG, marking saved, best and resumed steps");
  plot->add_option("DIR", dir, "checkpoint directory")->required();
  plot->add_option("-o,--output", out, "the SVG file to write")->required();

  nnx_ckpt::ExportArgs ex;
  auto* exp = app.add_subcommand("export", "a State item of a step to safetensors or npz, read by PyTorch, numpy, JAX");
  exp->add_option("DIR", ex.dir, "checkpoint directory")->required();
  exp->add_option("--step", ex.step, "the step (default: the latest)");
  exp->add_option("--item", ex.item, "the State item (default: 'default')");
  exp->add_option("--format", ex.format, "safetensors or npz (default: from the file name)")->check(CLI::IsMember({"safetensors", "npz"}));
  exp->add_flag("--torch", ex.torch, "PyTorch's names and layouts: a models::MLP state as nn.Sequential's state_dict");
  exp->add_option("-o,--output", ex.out, "the file to write")->required();
  nnx_ckpt::ImportArgs im;
  auto* imp = app.add_subcommand("import", "a safetensors or npz file into a normal committed step");
  imp->add_option("FILE", im.file, "the weights file")->required();
  imp->add_option("--into", im.dir, "checkpoint directory (created if missing)")->required();
  imp->add_option("--step", im.step, "the step to write")->required();
  imp->add_option("--item", im.item, "the State item (default: 'default')");
  imp->add_option("--format", im.format, "safetensors or npz (default: from the file name)")->check(CLI::IsMember({"safetensors", "npz"}));
  imp->add_option("--like", im.like, "a step of DIR whose item gives the structure: kinds, dtypes, strict paths");
  imp->add_flag("--torch", im.torch, "the file is a PyTorch state_dict of the nn.Sequential equal to the --like step's MLP");

  // CLI11 reports an unknown subcommand as "A subcommand is required": name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const auto* sub : {list, show, verify, digest, diff, plot, exp, imp}) known = known || sub->get_name() == argv[1];
    if (!known) {
      std::cerr << "nnx-ckpt: unknown subcommand '" << argv[1] << "'; expected list, show, verify, digest, diff, plot, export or import (see --help)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (list->parsed()) return cmd_list(dir);
    if (show->parsed()) return cmd_show(dir, step);
    if (verify->parsed()) return cmd_verify(dir, step, latest_intact);
    if (digest->parsed()) return cmd_digest(dir, step, item);
    if (diff->parsed()) return cmd_diff(dir, step_a, step_b);
    if (plot->parsed()) return cmd_plot(dir, out);
    if (exp->parsed()) return nnx_ckpt::cmd_export(ex);
    if (imp->parsed()) return nnx_ckpt::cmd_import(im);
  } catch (const std::exception& e) {
    std::cerr << "nnx-ckpt: " << e.what() << "\n";
    return 2;
  }
  return 2;
}
