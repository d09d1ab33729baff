#include "base/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace rb {
namespace {

std::atomic<int> g_min_severity{static_cast<int>(LogSeverity::kInfo)};
std::function<std::string()>* g_prefix = nullptr;  // set once, before threads start

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kDebug:
      return "D";
    case LogSeverity::kInfo:
      return "I";
    case LogSeverity::kWarning:
      return "W";
    case LogSeverity::kError:
      return "E";
    case LogSeverity::kFatal:
      return "F";
  }
  return "?";
}

// Only the file name: full paths from Bazel's sandbox are long and say nothing.
const char* Basename(const char* path) {
  const char* base = path;
  for (const char* p = path; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  return base;
}

}  // namespace

void SetLogPrefix(std::function<std::string()> prefix) {
  delete g_prefix;
  g_prefix = prefix ? new std::function<std::string()>(std::move(prefix)) : nullptr;
}

void SetMinLogSeverity(LogSeverity severity) {
  g_min_severity.store(static_cast<int>(severity), std::memory_order_relaxed);
}

LogSeverity MinLogSeverity() {
  return static_cast<LogSeverity>(g_min_severity.load(std::memory_order_relaxed));
}

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "F %s:%d: check failed: %s%s%s\n", Basename(file), line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}

LogMessage::LogMessage(const char* file, int line, LogSeverity severity)
    : file_(file), line_(line), severity_(severity) {}

LogMessage::~LogMessage() {
  // One fprintf per line so that lines from different threads do not interleave.
  std::string text = stream_.str();
  const std::string prefix = g_prefix != nullptr ? (*g_prefix)() + " " : std::string();
  std::fprintf(stderr, "%s%s %s:%d: %s\n", prefix.c_str(), SeverityName(severity_), Basename(file_),
               line_, text.c_str());
  if (severity_ == LogSeverity::kFatal) {
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace rb
