#include "crate/io/safetensors.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/atomic_file.hpp"
#include "crate/io/file_error.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;  // 100 MiB, as the reference implementation

using io_error::fail;

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
  }
  return "?";
}

DType dtype_from_tag(const std::string& path, const std::string& name, const std::string& tag) {
  if (tag == "F32") return DType::f32;
  if (tag == "F64") return DType::f64;
  if (tag == "I64") return DType::i64;
  fail(path, fmt::format("tensor '{}' has dtype {}, which whitebox does not read (F32, F64, I64); convert it "
                         "with tensor.float() in PyTorch before saving",
                         name, tag));
}

}  // namespace

const Tensor* SafeTensors::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || name.empty()) fail(path, fmt::format("invalid tensor name '{}'", name));
    if (header.contains(name)) fail(path, fmt::format("tensor '{}' given twice", name));
    const Tensor c = prim::contiguous(prim::to_device(t, Device::CPU));
    const std::uint64_t nbytes = static_cast<std::uint64_t>(c.numel()) * dtype_size(c.dtype());
    header[name] = {{"dtype", dtype_tag(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    host.push_back(c);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section to 8 bytes
  std::string bytes;
  bytes.reserve(8 + h.size() + offset);
  const std::uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((hl >> (8 * i)) & 0xff));
  bytes += h;
  for (const auto& c : host)
    bytes.append(static_cast<const char*>(c.raw_data()), static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
  write_file_atomic(path, bytes);
}

SafeTensors read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) fail(path, fmt::format("file is {} bytes; a safetensors file starts with an 8-byte header length", file_size));
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  std::uint64_t hl = 0;
  for (int i = 0; i < 8; ++i) hl |= static_cast<std::uint64_t>(len_bytes[i]) << (8 * i);
  if (hl > kMaxHeader || hl > file_size - 8)
    fail(path, fmt::format("header length {} does not fit in a file of {} bytes (truncated or not safetensors)", hl, file_size));
  std::string h(hl, '\0');
  in.read(h.data(), static_cast<std::streamsize>(hl));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
  } catch (const nlohmann::json::exception& e) {
    fail(path, fmt::format("header is not valid JSON ({})", e.what()));
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  const std::uint64_t data_size = file_size - 8 - hl;
  SafeTensors out;
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        fail(path, fmt::format("'__metadata__' must be a JSON object of strings, got {}", it.value().type_name()));
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          fail(path, fmt::format("metadata entry '{}' is not a string (got {})", m.key(), m.value().type_name()));
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    order.emplace_back(0, it.key());
  }
  // First every entry's dtype, shape and offsets, and that the offsets tile the data section exactly
  // (sorted by offset: each tensor starts where the previous one ends, the first at 0, the last at the
  // end; no overlaps, no gaps), as the format requires; only then is anything allocated, so the tensors
  // together never take more memory than the file's data section.
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;
  };
  std::vector<Entry> entries;
  entries.reserve(order.size());
  for (auto& [unused, name] : order) {
    const auto& e = header.at(name);
    try {
      if (!e.is_object()) fail(path, fmt::format("tensor '{}': header entry is a JSON {}, expected an object", name,
                                                 e.type_name()));
      const auto& tag = e.at("dtype");
      if (!tag.is_string())
        fail(path, fmt::format("tensor '{}': field 'dtype' is a JSON {}, expected a string", name, tag.type_name()));
      const DType dt = dtype_from_tag(path, name, tag.get<std::string>());
      const auto& jshape = e.at("shape");
      if (!jshape.is_array())
        fail(path, fmt::format("tensor '{}': field 'shape' is a JSON {}, expected an array of non-negative integers",
                               name, jshape.type_name()));
      Shape shape;
      for (const auto& v : jshape) {
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
          fail(path, fmt::format("tensor '{}': field 'shape' holds {}, expected non-negative integers below 2^63", name,
                                 v.dump()));
        shape.push_back(static_cast<std::int64_t>(v.get<std::uint64_t>()));
      }
      const auto& joff = e.at("data_offsets");
      if (!joff.is_array() || joff.size() != 2 || !joff[0].is_number_unsigned() || !joff[1].is_number_unsigned())
        fail(path, fmt::format("tensor '{}': field 'data_offsets' is {}, expected [begin, end] of non-negative integers",
                               name, joff.dump()));
      const auto b = joff[0].get<std::uint64_t>(), en = joff[1].get<std::uint64_t>();
      if (b > en || en > data_size)
        fail(path, fmt::format("tensor '{}': field 'data_offsets' [{}, {}] lies outside the {}-byte data section "
                               "(truncated file?)",
                               name, b, en, data_size));
      std::int64_t want = 0;
      try {
        want = checked_mul(numel_of(shape), static_cast<std::int64_t>(dtype_size(dt)), "the size in bytes");
      } catch (const std::overflow_error&) {
        fail(path, fmt::format("tensor '{}': field 'shape' {} {} has more bytes than fit in 64 bits (corrupt header)",
                               name, shape_str(shape), dtype_name(dt)));
      }
      if (en - b != static_cast<std::uint64_t>(want))
        fail(path, fmt::format("tensor '{}' of shape {} {} needs {} bytes, its field 'data_offsets' spans {}", name,
                               shape_str(shape), dtype_name(dt), want, en - b));
      entries.push_back({name, dt, std::move(shape), b, en});
    } catch (const nlohmann::json::exception& ex) {
      fail(path, fmt::format("tensor '{}': malformed header entry ({})", name, ex.what()));
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const auto& e : entries) {
    if (e.begin != covered) {
      if (e.begin < covered)
        fail(path, fmt::format("tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' (data_offsets [{}, {}]): the "
                               "offsets must tile the data section",
                               e.name, e.begin, e.end, prev->name, prev->begin, prev->end));
      fail(path, fmt::format("bytes [{}, {}) of the data section belong to no tensor (a gap before tensor '{}'): the "
                             "offsets must tile the data section",
                             covered, e.begin, e.name));
    }
    covered = e.end;
    prev = &e;
  }
  if (covered != data_size)
    fail(path, fmt::format("the tensors' data_offsets cover {} of the {} bytes of the data section ({} bytes at the "
                           "end belong to no tensor)",
                           covered, data_size, data_size - covered));
  std::vector<char> data(data_size);
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  if (static_cast<std::uint64_t>(in.gcount()) != data_size) fail(path, "short read of the data section");
  std::vector<std::pair<std::uint64_t, std::pair<std::string, Tensor>>> loaded;
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data.data() + e.begin, e.end - e.begin);
    loaded.emplace_back(e.begin, std::make_pair(e.name, t));
  }
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [o, nt] : loaded) out.tensors.push_back(std::move(nt));
  return out;
}

}  // namespace wb::crate
