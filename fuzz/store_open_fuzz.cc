// Opening the store on damaged database and WAL files. A sample store (its last writes
// still in the WAL) is made once; each input damages copies of its files (bytes
// overwritten, files cut short) and opens them, with and without the full verification
// at open. The store must refuse (a status), or fail the read that meets the damage, or
// serve a state it really held: never different data, never a crash. An earlier state is
// allowed: a WAL cut at a transaction boundary (or damaged inside its last transaction)
// looks exactly like a power loss before that transaction was written, and only outside
// knowledge could tell them apart (storage/wal_frames.h).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzz/input_reader.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace rb::fuzz {
namespace {

struct Sample {
  std::string db;
  std::string wal;
  std::string dump;                     // what it holds
  std::set<std::string> earlier_dumps;  // what it held after each write in the WAL
  std::string dir;                      // where each input's damaged copy goes
};

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "store_open_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

const Sample& GetSample() {
  static const Sample* sample = [] {
    auto* s = new Sample;
    storage::StoreOptions options;
    options.dir = storage::MakeTempDir();
    const std::string db = absl::StrCat(options.dir, "/", storage::kDatabaseFileName);
    int writes = 0;
    auto record = [&](const storage::Store& store) {
      // The writes from the 20th on are in the WAL; the state before them too.
      if (++writes < 20) return;
      auto dump = storage::DumpStore(store);
      if (!dump.ok()) Fail("reading the sample", std::string(dump.status().message()));
      s->earlier_dumps.insert(*dump);
      // The files as they are while the store is open: closing it checkpoints the WAL
      // into the database and removes it.
      s->db = storage::ReadFileBytes(db);
      s->wal = storage::ReadFileBytes(db + "-wal");
    };
    if (absl::Status st = storage::FillSampleStore(options, /*checkpoint=*/false, record);
        !st.ok()) {
      Fail("making the sample", std::string(st.message()));
    }
    if (s->wal.empty()) Fail("making the sample", "no WAL");
    s->dir = storage::MakeTempDir();
    // What the undamaged copy serves.
    storage::WriteFileBytes(absl::StrCat(s->dir, "/", storage::kDatabaseFileName), s->db);
    storage::WriteFileBytes(absl::StrCat(s->dir, "/", storage::kDatabaseFileName, "-wal"), s->wal);
    {
      options.dir = s->dir;
      auto store = storage::Store::Open(options);
      if (!store.ok()) Fail("opening the sample", std::string(store.status().message()));
      auto dump = storage::DumpStore(**store);
      if (!dump.ok()) Fail("reading the sample", std::string(dump.status().message()));
      s->dump = *dump;
    }
    if (s->earlier_dumps.count(s->dump) == 0) Fail("the sample's copy", "serves another state");
    return s;
  }();
  return *sample;
}

void Damage(InputReader& in, std::string* file) {
  if (file->empty()) return;
  switch (in.Below(4)) {
    case 0:  // cut short
      file->resize(in.U16() % file->size());
      break;
    case 1: {  // a run of bytes overwritten
      const size_t at = (static_cast<size_t>(in.U16()) << 4 | in.Below(16)) % file->size();
      const std::string bytes = in.Bytes(16);
      file->replace(at, std::min(bytes.size(), file->size() - at),
                    bytes.substr(0, file->size() - at));
      break;
    }
    default: {  // one bit
      const size_t at = (static_cast<size_t>(in.U16()) << 4 | in.Below(16)) % file->size();
      (*file)[at] = static_cast<char>((*file)[at] ^ (1 << in.Below(8)));
      break;
    }
  }
}

}  // namespace
}  // namespace rb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rb;
  const fuzz::Sample& sample = fuzz::GetSample();
  fuzz::InputReader in(data, size);
  std::string db = sample.db;
  std::string wal = sample.wal;
  const uint64_t damages = 1 + in.Below(4);
  for (uint64_t i = 0; i < damages; ++i) fuzz::Damage(in, in.Bool() ? &db : &wal);
  const std::string path = absl::StrCat(sample.dir, "/", storage::kDatabaseFileName);
  std::filesystem::remove(path + "-shm");
  storage::WriteFileBytes(path, db);
  storage::WriteFileBytes(path + "-wal", wal);
  storage::StoreOptions options;
  options.dir = sample.dir;
  options.verify_on_open = in.Bool();
  auto store = storage::Store::Open(options);
  if (!store.ok()) {  // refused, with a status that says why
    if (store.status().message().empty()) fuzz::Fail("refused without a message", "");
    return 0;
  }
  auto dump = storage::DumpStore(**store);
  if (!dump.ok()) return 0;  // the read that met the damage failed
  if (*dump != sample.dump && sample.earlier_dumps.count(*dump) == 0) {
    fuzz::Fail("opened damaged files and served different data",
               absl::StrCat("verify_on_open=", options.verify_on_open, "\n--- served\n", *dump,
                            "\n--- held\n", sample.dump));
  }
  return 0;
}
