#include "base/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace rb {
namespace {

std::string NameOfThisThread() {
  char name[64] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = NameOfThisThread();
  std::string seen;
  std::thread t([&] {
    SetThreadName("rb-test");
    seen = NameOfThisThread();
  });
  t.join();
  EXPECT_EQ(seen, "rb-test");
  EXPECT_EQ(NameOfThisThread(), before);
}

TEST(ThreadNameTest, CutsALongNameToWhatLinuxKeeps) {
  std::string seen;
  std::thread t([&] {
    SetThreadName("rb-a-very-long-thread-name");
    seen = NameOfThisThread();
  });
  t.join();
  EXPECT_EQ(seen, "rb-a-very-long-");  // 15 bytes
}

}  // namespace
}  // namespace rb
