// Reads a fuzzer's bytes as a sequence of small typed choices, like LLVM's
// FuzzedDataProvider (which only clang ships). Past the end, every read returns 0 or "",
// so any input is a complete, valid script.
#ifndef RAFTBADGER_FUZZ_INPUT_READER_H_
#define RAFTBADGER_FUZZ_INPUT_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace rb::fuzz {

class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  size_t remaining() const { return empty() ? 0 : size_ - pos_; }

  uint8_t U8() { return empty() ? 0 : data_[pos_++]; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(U8()) << (8 * i);
    return v;
  }
  // A value in [0, n) (0 when n is 0), from one byte: small ranges are what matter.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : U8() % n; }
  bool Bool() { return (U8() & 1) != 0; }
  // Mostly small, sometimes anywhere: the edge cases of indexes and terms.
  uint64_t Number() {
    const uint8_t kind = U8();
    if (kind < 200) return kind % 16;
    if (kind < 250) return U16();
    return U64();
  }
  std::string Bytes(size_t max) {
    size_t n = U16() % (max + 1);
    if (n > remaining()) n = remaining();
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace rb::fuzz

#endif  // RAFTBADGER_FUZZ_INPUT_READER_H_
