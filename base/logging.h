// Project-wide logging and invariant checks.
//
// Debian's Abseil (20220623) has no absl/log, so this is the one small facility every
// folder uses. Two kinds of failure exist in RaftBadger (see DEVELOPERS.md):
//   - expected failures (I/O, configuration, network) are returned as absl::Status;
//   - broken invariants are bugs: RB_CHECK crashes loudly with a message.
//
//   RB_CHECK(next > match, "peer ", id, " next=", next, " match=", match);
//   RB_LOG(WARNING) << "dropping malformed message from " << from;
//
// RB_CHECK stays on in every build type: the core's checks are part of its contract.
#ifndef RAFTBADGER_BASE_LOGGING_H_
#define RAFTBADGER_BASE_LOGGING_H_

#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rb {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Messages below this severity are discarded. Default: kInfo. Not thread-safe to change
// while other threads log; set it once at start-up.
void SetMinLogSeverity(LogSeverity severity);
LogSeverity MinLogSeverity();

// Text put before every log line, e.g. the server's time, node name and term. Unset by
// default (the simulator's lines carry none: it reads no clock). Set it once at start-up,
// before other threads log; the function itself must be thread-safe.
void SetLogPrefix(std::function<std::string()> prefix);

// Prints "file:line: check failed: condition: message" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

// One log line, written to stderr when it goes out of scope.
class LogMessage {
 public:
  LogMessage(const char* file, int line, LogSeverity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  const char* file_;
  int line_;
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Swallows a stream expression when the severity is below the threshold.
class LogVoidify {
 public:
  void operator&(std::ostream&) {}
};

}  // namespace rb

#define RB_LOG_SEVERITY_DEBUG ::rb::LogSeverity::kDebug
#define RB_LOG_SEVERITY_INFO ::rb::LogSeverity::kInfo
#define RB_LOG_SEVERITY_WARNING ::rb::LogSeverity::kWarning
#define RB_LOG_SEVERITY_ERROR ::rb::LogSeverity::kError
#define RB_LOG_SEVERITY_FATAL ::rb::LogSeverity::kFatal

#define RB_LOG(severity)                                \
  (RB_LOG_SEVERITY_##severity < ::rb::MinLogSeverity()) \
      ? (void)0                                         \
      : ::rb::LogVoidify() &                            \
            ::rb::LogMessage(__FILE__, __LINE__, RB_LOG_SEVERITY_##severity).stream()

// The message arguments are only evaluated when the check fails.
#define RB_CHECK(condition, ...)                                                      \
  do {                                                                                \
    if (__builtin_expect(!(condition), 0)) {                                          \
      ::rb::CheckFailed(__FILE__, __LINE__, #condition, ::absl::StrCat(__VA_ARGS__)); \
    }                                                                                 \
  } while (0)

#define RB_FATAL(...) ::rb::CheckFailed(__FILE__, __LINE__, "fatal", ::absl::StrCat(__VA_ARGS__))

#endif  // RAFTBADGER_BASE_LOGGING_H_
