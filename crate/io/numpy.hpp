// NumPy array files (.npy, .npz) and the one entry point that reads any array file whitebox accepts.
//
// .npy (format versions 1.0, 2.0, 3.0): the magic "\x93NUMPY", a version, a little-endian header length
// (u16 for 1.0, u32 after), a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (S, d), }
// padded with spaces and a newline, then the raw data. Read: little-endian (or byte-order free) float32,
// float64 and int64 as they are; int32, int16, int8, uint8, uint16, uint32 and bool widened to int64.
// Refused, naming the file: big-endian data, fortran_order True, object arrays, other dtypes, a header
// that is not the dict numpy writes, and data that is shorter or longer than the shape says.
//
// .npz: a zip archive (np.savez: stored; np.savez_compressed: deflated) of name.npy members. The
// central directory is read from the end-of-central-directory record (zip64 records and extra fields
// included, as numpy writes them with force_zip64); each member is located through its local header,
// its bytes are inflated (raw deflate, zlib) into a buffer of exactly the declared size and its CRC-32
// is checked. Bounded by the input: member ranges must lie inside the file, a declared size above what
// deflate can produce from the compressed bytes (1032:1) is refused before anything is allocated, and
// the stream must end exactly at the declared size. Other compression methods, encryption and
// multi-disk archives are refused.
//
// read_array_file picks the format by content: the .npy magic, a zip local header, or else safetensors.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::crate {

using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

// `bytes` is one .npy image; `where` names it in errors ("file.npz: member 'x.npy'").
Tensor parse_npy(const std::string& bytes, const std::string& where);
// Throws std::runtime_error starting with the path.
Tensor read_npy(const std::string& path);
// Members in archive order, named without the ".npy" suffix (np.savez's keyword names).
NamedArrays read_npz(const std::string& path);
// .npy -> one array named after the file's stem; .npz -> its members; safetensors -> its tensors.
NamedArrays read_array_file(const std::string& path);

}  // namespace wb::crate
