#include "tests/test_certs.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace rb::tests {
namespace {

absl::Status Run(const std::string& command, const std::string& log) {
  const int rc = std::system(absl::StrCat(command, " >>", log, " 2>&1").c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("`", command, "` failed (", rc, "); see ", log));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TestCa> MakeTestCa(const std::string& dir, const std::string& ca_name,
                                  const std::vector<std::string>& names) {
  ::mkdir(dir.c_str(), 0700);
  TestCa ca{dir, dir + "/ca.pem"};
  const std::string log = dir + "/openssl.log";
  // EC keys: far quicker to make than RSA ones.
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  if (absl::Status s = Run(absl::StrCat("openssl req -x509 ", key, " -days 2 -subj /CN=", ca_name,
                                        " -keyout ", dir, "/ca.key -out ", ca.ca_file),
                           log);
      !s.ok()) {
    return s;
  }
  for (const std::string& name : names) {
    const std::string ext = absl::StrCat(dir, "/", name, ".ext");
    std::ofstream(ext) << "subjectAltName=DNS:" << name << ",DNS:localhost,IP:127.0.0.1\n";
    if (absl::Status s = Run(absl::StrCat("openssl req ", key, " -subj /CN=", name, " -keyout ",
                                          ca.key_file(name), " -out ", dir, "/", name, ".csr"),
                             log);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            Run(absl::StrCat("openssl x509 -req -days 2 -in ", dir, "/", name, ".csr -CA ",
                             ca.ca_file, " -CAkey ", dir, "/ca.key -CAcreateserial -extfile ", ext,
                             " -out ", ca.cert_file(name)),
                log);
        !s.ok()) {
      return s;
    }
  }
  return ca;
}

}  // namespace rb::tests
