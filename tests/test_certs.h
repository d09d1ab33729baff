// Throwaway certificates for TLS tests, made at test time with Debian's openssl: a CA and,
// for each name, a certificate signed by it whose subject alternative names are the name,
// localhost and 127.0.0.1 (so it serves a member of that name on loopback).
#ifndef RAFTBADGER_TESTS_TEST_CERTS_H_
#define RAFTBADGER_TESTS_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rb::tests {

struct TestCa {
  std::string dir;
  std::string ca_file;  // <dir>/ca.pem
  std::string cert_file(const std::string& name) const { return dir + "/" + name + ".pem"; }
  std::string key_file(const std::string& name) const { return dir + "/" + name + ".key"; }
};

// Makes a CA in dir (created if missing) and one certificate per name. The CA's common
// name is ca_name, so two calls in two folders make two unrelated CAs.
absl::StatusOr<TestCa> MakeTestCa(const std::string& dir, const std::string& ca_name,
                                  const std::vector<std::string>& names);

}  // namespace rb::tests

#endif  // RAFTBADGER_TESTS_TEST_CERTS_H_
