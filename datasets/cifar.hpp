// CIFAR-10 binary reader (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version").
//
// Each file is a sequence of 3073-byte records: 1 label byte (0..9), then 3072 pixel bytes of a 32x32
// colour image as three planes, R then G then B, each row-major: exactly the Dataset layout
// N x 3 x 32 x 32. The train split is data_batch_1.bin .. data_batch_5.bin (50000 images), the test
// split test_batch.bin (10000). A file may also be gzip-compressed (name.bin.gz). The reader checks
// that each file is a non-empty whole number of records and that every label is < 10; errors are
// std::runtime_error naming the file, what was expected and what was found.
#pragma once

#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace wb::data {

// `dir` holds the .bin files; when it does not but dir/cifar-10-batches-bin does (the directory the
// official tarball extracts to), that one is used.
// `first` > 0 reads only the first `first` records of the split (the rest is neither read nor checked).
Dataset load_cifar10(const std::string& dir, Split split, std::int64_t first = 0);
// Concatenates the records of the given files, in order, into one Dataset called `name`.
// A file holding more than max_records records is an error, found before more than one 32-record
// block beyond the limit is read: the format has no header, so this cap bounds what a file (or a gzip
// bomb) can cost. The default is the 60000 images of the whole data set.
inline constexpr std::int64_t kMaxCifarRecords = 60000;
Dataset read_cifar10_files(const std::vector<std::string>& paths, std::string name,
                           std::int64_t max_records = kMaxCifarRecords, std::int64_t first = 0);

const std::vector<std::string>& cifar10_classes();  // "airplane", "automobile", ... "truck"

}  // namespace wb::data
