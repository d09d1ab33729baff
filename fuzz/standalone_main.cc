// A main() for libFuzzer targets where libFuzzer is not linked (any compiler, any
// `bazel test`): it runs LLVMFuzzerTestOneInput on every file of the corpus directory,
// then on --runs= inputs made by mutating them with a seeded generator. No coverage
// guidance, so it finds less than libFuzzer does; it keeps every target compiling,
// running and crash-free on its corpus and near it in every test run. A crash prints the
// input (hex) that caused it before the process dies.
//
// Usage: <target> [--runs=N] [--seed=S] CORPUS_FILE_OR_DIR...
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t kMaxInputBytes = 1 << 16;

const std::string* g_current = nullptr;

void PrintCurrent(int) {
  if (g_current != nullptr) {
    std::fprintf(stderr, "standalone fuzz driver: crashing input (%zu bytes, hex):\n",
                 g_current->size());
    for (unsigned char c : *g_current) std::fprintf(stderr, "%02x", c);
    std::fprintf(stderr, "\n");
  }
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void Run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

// One of a few byte-level mutations libFuzzer also makes.
std::string Mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&rng](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  const int mutations = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < mutations; ++i) {
    switch (pick(6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // set a byte to an interesting value
        if (!s.empty()) {
          static const unsigned char kValues[] = {0, 1, 0x7f, 0x80, 0xff};
          s[pick(s.size())] = static_cast<char>(kValues[pick(sizeof kValues)]);
        }
        break;
      case 2:  // insert random bytes
        if (s.size() < kMaxInputBytes) {
          s.insert(pick(s.size() + 1), std::string(1 + pick(8), static_cast<char>(rng())));
        }
        break;
      case 3:  // erase a range
        if (!s.empty()) {
          const size_t at = pick(s.size());
          s.erase(at, 1 + pick(s.size() - at));
        }
        break;
      case 4:  // splice in part of another input
        if (!corpus.empty()) {
          const std::string& other = corpus[pick(corpus.size())];
          const size_t from = pick(other.size() + 1);
          s.insert(pick(s.size() + 1), other.substr(from, pick(other.size() - from + 1)));
        }
        break;
      default:  // truncate
        s.resize(pick(s.size() + 1));
        break;
    }
  }
  if (s.size() > kMaxInputBytes) s.resize(kMaxInputBytes);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 1000;
  uint64_t seed = 1;
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) {
      runs = std::atol(argv[i] + 7);
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
    } else {
      paths.push_back(argv[i]);
    }
  }
  std::signal(SIGABRT, PrintCurrent);
  std::signal(SIGSEGV, PrintCurrent);
  std::vector<std::string> corpus;
  std::sort(paths.begin(), paths.end());  // the same order on every run
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (corpus.back().size() > kMaxInputBytes) corpus.back().resize(kMaxInputBytes);
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "usage: %s [--runs=N] [--seed=S] CORPUS_FILE_OR_DIR...: no input\n",
                 argv[0]);
    return 2;
  }
  for (const std::string& input : corpus) Run(input);
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) {
    Run(Mutate(corpus[static_cast<size_t>(rng() % corpus.size())], corpus, rng));
  }
  std::printf("%zu corpus inputs and %ld mutations (seed %llu): no crash\n", corpus.size(), runs,
              static_cast<unsigned long long>(seed));
  return 0;
}
