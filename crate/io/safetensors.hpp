// safetensors files: the weight format PyTorch users exchange (huggingface/safetensors).
//
// Layout: an 8-byte little-endian u64 header length H, a JSON header of H bytes mapping each tensor
// name to {"dtype": "F32"|"F64"|"I64", "shape": [...], "data_offsets": [begin, end]} (offsets into
// the data section that follows) and an optional "__metadata__" map of strings, then the raw
// little-endian data. Writes are atomic: a temporary file in the same directory, fsync, rename,
// fsync of the directory, so a crash never leaves a half-written file under the final name.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::crate {

struct SafeTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;
  const Tensor* find(const std::string& name) const;
};

// Throws std::runtime_error naming the file and the problem (missing, truncated, bad header, offsets
// out of range, unsupported dtype, size not matching the shape).
SafeTensors read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace wb::crate
