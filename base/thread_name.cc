#include "base/thread_name.h"

#include <pthread.h>

#include <string>

namespace rb {

void SetThreadName(absl::string_view name) {
  constexpr size_t kMaxNameBytes = 15;  // the kernel's TASK_COMM_LEN less its NUL
  const std::string cut(name.substr(0, kMaxNameBytes));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace rb
