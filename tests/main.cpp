// doctest's runner for every test binary. ctest runs each TEST_CASE by name (--test-case=NAME, from
// doctest_discover_tests); a name the filter cannot match — a ';' cuts it short, as CMake lists do —
// would run nothing and pass. So a run given a test-case filter that selects no test case fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {
int selected = -1;  // test cases that passed the filters in the last run; -1: no run

struct SelectedCounter : doctest::IReporter {
  explicit SelectedCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override { selected = static_cast<int>(stats.numTestCasesPassingFilters); }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
DOCTEST_REGISTER_LISTENER("selected_counter", 1, SelectedCounter);
}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;
  bool filtered = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    filtered |= arg.starts_with("--test-case=") || arg.starts_with("-tc=") || arg.starts_with("--dt-test-case=") ||
                arg.starts_with("--dt-tc=");
  }
  if (filtered && selected == 0) {
    std::fprintf(stderr, "no test case matches the --test-case filter: a test name with a ';' (CMake cuts it there)?\n");
    return 1;
  }
  return result;
}
