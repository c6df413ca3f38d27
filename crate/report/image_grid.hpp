// A grid of images as a PNG file (written with zlib, no gnuplot needed): rows x columns tiles of
// equal size, each tile `channels` x height x width floats (channel-major, as a (C, H, W) tensor),
// mapped to 0..255 linearly from [lo, hi] and clipped; a 2-pixel gray gap between tiles. Grayscale
// for one channel, RGB for three. Written atomically (a temporary file, then a rename); throws
// std::runtime_error naming the path when it cannot be written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb::crate {

struct ImageGrid {
  std::int64_t rows = 0, columns = 0, channels = 1, height = 0, width = 0;
  std::vector<float> pixels;  // rows * columns tiles, row-major, each channels * height * width
  double lo = 0.0, hi = 1.0;
  std::int64_t scale = 1;  // each pixel drawn as scale x scale (nearest neighbour)
};

void write_png_grid(const std::string& path, const ImageGrid& grid);

}  // namespace wb::crate
