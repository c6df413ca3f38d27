#include "crate/io/safetensors.hpp"

#include <algorithm>
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
  std::vector<char> data(data_size);
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  if (static_cast<std::uint64_t>(in.gcount()) != data_size) fail(path, "short read of the data section");
  std::vector<std::pair<std::uint64_t, std::pair<std::string, Tensor>>> loaded;
  for (auto& [unused, name] : order) {
    const auto& e = header.at(name);
    try {
      const DType dt = dtype_from_tag(path, name, e.at("dtype").get<std::string>());
      const Shape shape = e.at("shape").get<Shape>();
      const auto off = e.at("data_offsets").get<std::vector<std::uint64_t>>();
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
        fail(path, fmt::format("tensor '{}' has data offsets outside the {}-byte data section (truncated file?)", name,
                               data_size));
      for (auto s : shape)
        if (s < 0) fail(path, fmt::format("tensor '{}' has a negative dimension", name));
      const std::uint64_t want = static_cast<std::uint64_t>(numel_of(shape)) * dtype_size(dt);
      if (off[1] - off[0] != want)
        fail(path, fmt::format("tensor '{}' of shape {} {} needs {} bytes, its offsets span {}", name, shape_str(shape),
                               dtype_name(dt), want, off[1] - off[0]));
      Tensor t = Tensor::empty(shape, dt);
      if (want > 0) std::memcpy(t.raw_data(), data.data() + off[0], want);
      loaded.emplace_back(off[0], std::make_pair(name, t));
    } catch (const nlohmann::json::exception& ex) {
      fail(path, fmt::format("tensor '{}': malformed header entry ({})", name, ex.what()));
    }
  }
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [o, nt] : loaded) out.tensors.push_back(std::move(nt));
  return out;
}

}  // namespace wb::crate
