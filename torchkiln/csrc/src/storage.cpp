// Zip (STORED entries) and safetensors, read with strict bounds checks.
#include "storage.h"

#include <ATen/ops/empty.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "error.h"

namespace torchkiln::detail {

namespace {

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24); }
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;

[[noreturn]] void zip_error(const std::string& msg) { throw Error("not a valid torchkiln archive: " + msg); }

// [begin, begin + len) lies inside [0, limit).
bool in_bounds(uint64_t begin, uint64_t len, uint64_t limit) { return begin <= limit && len <= limit - begin; }

// Values of a zip64 extended-information extra field (id 1) replacing the
// 32-bit fields that hold 0xFFFFFFFF, in the order the format fixes.
void read_zip64_extra(const uint8_t* extra, size_t len, uint64_t& usize, uint64_t& csize, uint64_t& offset,
                      const std::string& name) {
  size_t pos = 0;
  while (pos + 4 <= len) {
    uint16_t id = le16(extra + pos);
    uint16_t n = le16(extra + pos + 2);
    if (pos + 4 + n > len) zip_error("entry '" + name + "' has a truncated extra field");
    if (id == 1) {
      const uint8_t* p = extra + pos + 4;
      size_t left = n;
      for (uint64_t* field : {&usize, &csize, &offset}) {
        if (*field != 0xFFFFFFFFu) continue;
        if (left < 8) zip_error("entry '" + name + "' has a truncated zip64 field");
        *field = le64(p);
        p += 8;
        left -= 8;
      }
      return;
    }
    pos += 4 + n;
  }
}

}  // namespace

ZipReader::ZipReader(const std::vector<std::pair<std::string, std::string_view>>& entries) : check_crc_(false) {
  order_.reserve(entries.size());
  for (const auto& [name, bytes] : entries) {
    Entry e{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0};
    if (!entries_.emplace(name, e).second) zip_error("entry '" + name + "' appears twice");
    order_.push_back(name);
  }
}

ZipReader::ZipReader(const uint8_t* data, size_t size) {
  if (size < kEndSize) zip_error("file too short to be a zip archive (" + std::to_string(size) + " bytes)");
  // The end record is the last 22 bytes plus a comment of at most 64 KiB.
  size_t end_pos = std::string::npos;
  size_t lowest = size - kEndSize > 0xFFFF ? size - kEndSize - 0xFFFF : 0;
  for (size_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (le32(data + pos) == kEndSig && pos + kEndSize + le16(data + pos + 20) == size) {
      end_pos = pos;
      break;
    }
  }
  if (end_pos == std::string::npos) zip_error("no zip end-of-central-directory record");
  const uint8_t* end = data + end_pos;
  uint64_t n_entries = le16(end + 10);
  uint64_t cd_size = le32(end + 12);
  uint64_t cd_offset = le32(end + 16);
  uint64_t cd_limit = end_pos;  // the central directory ends before this
  if (le16(end + 4) != 0 || le16(end + 6) != 0 || le16(end + 8) != le16(end + 10))
    zip_error("multi-disk zip archives are not supported");
  if (end_pos >= 20 && le32(data + end_pos - 20) == kEnd64LocatorSig) {
    uint64_t rec = le64(data + end_pos - 20 + 8);
    if (!in_bounds(rec, 56, end_pos - 20) || le32(data + rec) != kEnd64Sig) zip_error("bad zip64 end record");
    if (le32(data + rec + 16) != 0 || le32(data + rec + 20) != 0 || le64(data + rec + 24) != le64(data + rec + 32))
      zip_error("multi-disk zip archives are not supported");
    n_entries = le64(data + rec + 32);
    cd_size = le64(data + rec + 40);
    cd_offset = le64(data + rec + 48);
    cd_limit = rec;
  }
  if (!in_bounds(cd_offset, cd_size, cd_limit)) zip_error("central directory lies outside the file");
  if (n_entries > cd_size / kCentralSize) zip_error("central directory too small for its entry count");

  struct Span {
    uint64_t header, data_end;
    const std::string* name;
  };
  std::vector<Span> spans;
  spans.reserve(n_entries);
  order_.reserve(n_entries);
  const uint8_t* cd = data + cd_offset;
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n_entries; ++i) {
    if (!in_bounds(pos, kCentralSize, cd_size) || le32(cd + pos) != kCentralSig)
      zip_error("corrupt central directory entry " + std::to_string(i));
    const uint8_t* h = cd + pos;
    uint16_t flags = le16(h + 8), method = le16(h + 10);
    uint32_t crc = le32(h + 16);
    uint64_t csize = le32(h + 20), usize = le32(h + 24), offset = le32(h + 42);
    uint16_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    uint64_t var_len = uint64_t(name_len) + extra_len + comment_len;
    if (!in_bounds(pos + kCentralSize, var_len, cd_size)) zip_error("corrupt central directory entry " + std::to_string(i));
    std::string name(reinterpret_cast<const char*>(h + kCentralSize), name_len);
    read_zip64_extra(h + kCentralSize + name_len, extra_len, usize, csize, offset, name);
    pos += kCentralSize + var_len;

    if (flags & 0x41) zip_error("entry '" + name + "' is encrypted");
    if (method != 0)
      zip_error("entry '" + name + "' uses compression method " + std::to_string(method) +
                "; torchkiln archives store entries uncompressed");
    if (csize != usize) zip_error("entry '" + name + "' has different stored and original sizes");
    if (!in_bounds(offset, kLocalSize, cd_offset) || le32(data + offset) != kLocalSig)
      zip_error("entry '" + name + "' has no local header where the directory says");
    const uint8_t* lh = data + offset;
    uint16_t lname_len = le16(lh + 26), lextra_len = le16(lh + 28);
    if (le16(lh + 8) != 0) zip_error("entry '" + name + "' is compressed in its local header");
    if (lname_len != name_len || !in_bounds(offset + kLocalSize, lname_len, cd_offset) ||
        std::memcmp(lh + kLocalSize, name.data(), name_len) != 0)
      zip_error("entry '" + name + "' has a local header naming a different file");
    uint64_t data_offset = offset + kLocalSize + lname_len + lextra_len;
    if (!in_bounds(data_offset, usize, cd_offset)) zip_error("entry '" + name + "' extends past the end of the data");
    auto [it, fresh] = entries_.emplace(name, Entry{data + data_offset, usize, crc});
    if (!fresh) zip_error("entry '" + name + "' appears twice");
    order_.push_back(name);
    spans.push_back({offset, data_offset + usize, &it->first});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.header < b.header; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].header < spans[i - 1].data_end)
      zip_error("entries '" + *spans[i - 1].name + "' and '" + *spans[i].name + "' overlap");
}

std::string_view ZipReader::read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) zip_error("missing entry '" + name + "'");
  const Entry& e = it->second;
  const uint8_t* p = e.data;
  if (check_crc_ && crc32(p, e.size) != e.crc) zip_error("entry '" + name + "' is corrupt (CRC-32 mismatch)");
  return {reinterpret_cast<const char*>(p), size_t(e.size)};
}

// CRC-32 (IEEE, reflected), slicing by 8.
uint32_t crc32(const uint8_t* data, size_t size) {
  static const auto tables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  while (size >= 8) {
    uint32_t lo = le32(data) ^ c, hi = le32(data + 4);
    c = tables[7][lo & 0xFF] ^ tables[6][(lo >> 8) & 0xFF] ^ tables[5][(lo >> 16) & 0xFF] ^ tables[4][lo >> 24] ^
        tables[3][hi & 0xFF] ^ tables[2][(hi >> 8) & 0xFF] ^ tables[1][(hi >> 16) & 0xFF] ^ tables[0][hi >> 24];
    data += 8;
    size -= 8;
  }
  while (size--) c = tables[0][(c ^ *data++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// ---------------------------------------------------------------- safetensors

namespace {

struct DtypeName {
  const char* name;
  c10::ScalarType type;
};

constexpr DtypeName kDtypes[] = {
    {"F64", c10::ScalarType::Double},          {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},            {"BF16", c10::ScalarType::BFloat16},
    {"I64", c10::ScalarType::Long},            {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},           {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},             {"BOOL", c10::ScalarType::Bool},
    {"U16", c10::ScalarType::UInt16},          {"U32", c10::ScalarType::UInt32},
    {"U64", c10::ScalarType::UInt64},          {"C64", c10::ScalarType::ComplexFloat},
    {"F8_E4M3", c10::ScalarType::Float8_e4m3fn}, {"F8_E5M2", c10::ScalarType::Float8_e5m2},
    {"F8_E4M3FNUZ", c10::ScalarType::Float8_e4m3fnuz}, {"F8_E5M2FNUZ", c10::ScalarType::Float8_e5m2fnuz},
};

constexpr uint64_t kMaxHeader = 100'000'000;  // as the safetensors library

uint64_t to_offset(const nlohmann::json& j, const std::string& what) {
  if (!j.is_number_integer() || (j.is_number_integer() && !j.is_number_unsigned() && j.get<int64_t>() < 0))
    throw Error(what + " is not a non-negative integer");
  return j.get<uint64_t>();
}

}  // namespace

const char* safetensors_dtype_name(c10::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw Error(std::string("safetensors cannot store dtype ") + c10::toString(t));
}

Safetensors parse_safetensors(const uint8_t* data, size_t size, const std::string& what) {
  auto fail = [&](const std::string& msg) -> Error { return Error(what + ": " + msg); };
  if (size < 8) throw fail("too short for a safetensors header");
  uint64_t n = le64(data);
  if (n > size - 8) throw fail("header length " + std::to_string(n) + " exceeds the file");
  if (n > kMaxHeader) throw fail("header longer than 100 MB");
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (n == 0 || text[0] != '{') throw fail("header is not a JSON object");
  nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) throw fail("header is not valid JSON");

  Safetensors st;
  st.data = data + 8 + n;
  st.data_size = size - 8 - n;
  std::vector<const TensorRecord*> by_offset;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw fail("__metadata__ is not an object");
      for (auto& [k, v] : info.items()) {
        if (!v.is_string()) throw fail("__metadata__ value '" + k + "' is not a string");
        st.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!info.is_object() || info.size() != 3 || !info.contains("dtype") || !info.contains("shape") ||
        !info.contains("data_offsets"))
      throw fail(where + " must have exactly dtype, shape and data_offsets");
    TensorRecord rec;
    const auto& dtype = info["dtype"];
    const DtypeName* found = nullptr;
    if (dtype.is_string())
      for (const auto& d : kDtypes)
        if (dtype.get<std::string>() == d.name) found = &d;
    if (found == nullptr) throw fail(where + " has unknown dtype " + dtype.dump());
    rec.dtype = found->type;
    const auto& shape = info["shape"];
    if (!shape.is_array() || shape.size() > 64) throw fail(where + " has a bad shape");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      uint64_t dim = to_offset(d, what + ": " + where + " shape entry");
      if (dim > uint64_t(std::numeric_limits<int64_t>::max())) throw fail(where + " has a dimension too large");
      if (__builtin_mul_overflow(numel, dim, &numel)) throw fail(where + " has too many elements");
      rec.shape.push_back(int64_t(dim));
    }
    const auto& offs = info["data_offsets"];
    if (!offs.is_array() || offs.size() != 2) throw fail(where + " data_offsets must be [begin, end]");
    rec.begin = to_offset(offs[0], what + ": " + where + " data offset");
    rec.end = to_offset(offs[1], what + ": " + where + " data offset");
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, uint64_t(c10::elementSize(rec.dtype)), &nbytes))
      throw fail(where + " is too large");
    if (rec.end < rec.begin || rec.end > st.data_size) throw fail(where + " data lies outside the file");
    if (rec.end - rec.begin != nbytes)
      throw fail(where + " holds " + std::to_string(rec.end - rec.begin) + " bytes but its dtype and shape need " +
                 std::to_string(nbytes));
    by_offset.push_back(&st.tensors.emplace(name, std::move(rec)).first->second);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorRecord* a, const TensorRecord* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  for (const TensorRecord* r : by_offset) {
    if (r->begin != cursor) throw fail("tensor data ranges overlap or leave gaps");
    cursor = r->end;
  }
  if (cursor != st.data_size) throw fail("data section has bytes no tensor describes");
  return st;
}

at::Tensor Safetensors::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error("no tensor named '" + name + "'");
  const TensorRecord& r = it->second;
  at::Tensor t = at::empty(r.shape, at::TensorOptions().dtype(r.dtype));
  size_t nbytes = r.end - r.begin;
  if (nbytes != 0) std::memcpy(t.data_ptr(), data + r.begin, nbytes);
  if (r.dtype == c10::ScalarType::Bool) {
    const uint8_t* p = data + r.begin;
    for (size_t i = 0; i < nbytes; ++i)
      if (p[i] > 1) throw Error("tensor '" + name + "' has bool values other than 0 and 1");
  }
  return t;
}

std::string write_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.is_contiguous() && t.device().is_cpu() ? t : t.cpu().contiguous();
    uint64_t nbytes = c.numel() * c.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(char((n >> (8 * i)) & 0xFF));
  out += text;
  for (const at::Tensor& c : contiguous)
    if (c.numel() != 0) out.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return out;
}

}  // namespace torchkiln::detail
