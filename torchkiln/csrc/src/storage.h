// Reading (and, for torchkiln-run, writing) the two container formats an
// archive is made of: a zip file of STORED entries, and safetensors.
//
// Both readers trust nothing: every offset and length is checked against
// the buffer before use, sizes are checked for overflow, and nothing is
// allocated in proportion to a number read from the file unless the file is
// at least that big. Every problem is a torchkiln::Error naming the entry.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace torchkiln::detail {

// Entries of a zip archive, read in place from a caller-owned buffer.
class ZipReader {
 public:
  // Parses the central directory (zip64 included) and checks every entry's
  // local header; refuses compressed, encrypted and overlapping entries.
  ZipReader(const uint8_t* data, size_t size);

  // Entries handed over without a container (Note [Trusted in-memory
  // archives], loader.cpp): caller-owned views, in archive order, read
  // without a CRC. Names must still be unique.
  explicit ZipReader(const std::vector<std::pair<std::string, std::string_view>>& entries);

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // The entry's bytes (a view into the buffer), CRC-32 checked (zip entries).
  std::string_view read(const std::string& name) const;
  // Names in central-directory order.
  const std::vector<std::string>& names() const { return order_; }

 private:
  struct Entry {
    const uint8_t* data;
    uint64_t size;
    uint32_t crc;
  };
  bool check_crc_ = true;
  std::unordered_map<std::string, Entry> entries_;
  std::vector<std::string> order_;
};

uint32_t crc32(const uint8_t* data, size_t size);

// One tensor described by a safetensors header.
struct TensorRecord {
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;  // byte range within the data section
  uint64_t end;
};

// A parsed safetensors file: a view into the caller's buffer.
struct Safetensors {
  std::map<std::string, TensorRecord> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  const uint8_t* data = nullptr;                 // start of the data section
  uint64_t data_size = 0;

  // A fresh, contiguous CPU tensor holding a copy of the entry's bytes.
  at::Tensor tensor(const std::string& name) const;
};

// Checks the header the way the safetensors library does (known dtypes,
// sizes matching shapes, data ranges contiguous and covering the data).
Safetensors parse_safetensors(const uint8_t* data, size_t size, const std::string& what);

// Serializes tensors (made contiguous, CPU) with optional metadata.
std::string write_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata);

const char* safetensors_dtype_name(c10::ScalarType t);

}  // namespace torchkiln::detail
