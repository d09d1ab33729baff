#include "raft/inflights.h"

#include <algorithm>

#include "base/logging.h"

namespace rb::raft {

Inflights::Inflights(size_t capacity, uint64_t max_bytes)
    : capacity_(capacity), max_bytes_(max_bytes) {
  RB_CHECK(capacity > 0);
}

Inflights::Inflights(const Inflights& other)
    : capacity_(other.capacity_), max_bytes_(other.max_bytes_) {
  *this = other;
}

Inflights& Inflights::operator=(const Inflights& other) {
  if (this == &other) return *this;
  capacity_ = other.capacity_;
  max_bytes_ = other.max_bytes_;
  start_ = other.start_;
  count_ = other.count_;
  bytes_ = other.bytes_;
  buffer_.reset();
  if (other.buffer_ != nullptr) {
    buffer_.reset(new Slot[capacity_]);
    std::copy(other.buffer_.get(), other.buffer_.get() + capacity_, buffer_.get());
  }
  return *this;
}

void Inflights::Add(uint64_t index, uint64_t bytes) {
  RB_CHECK(!Full(), "cannot add into a full inflights window");
  if (buffer_ == nullptr) buffer_.reset(new Slot[capacity_]);
  if (count_ > 0) {
    const Slot& last = buffer_[(start_ + count_ - 1) % capacity_];
    RB_CHECK(index > last.index, "inflight index ", index, " not after ", last.index);
  }
  buffer_[(start_ + count_) % capacity_] = Slot{index, bytes};
  ++count_;
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t to) {
  size_t freed = 0;
  while (freed < count_) {  // bounded by the window size
    const Slot& slot = buffer_[(start_ + freed) % capacity_];
    if (slot.index > to) break;
    bytes_ -= slot.bytes;
    ++freed;
  }
  count_ -= freed;
  start_ = count_ == 0 ? 0 : (start_ + freed) % capacity_;
}

void Inflights::Reset() {
  start_ = 0;
  count_ = 0;
  bytes_ = 0;
}

bool Inflights::Full() const {
  return count_ == capacity_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

}  // namespace rb::raft
