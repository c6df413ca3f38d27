#include "crate/report/image_grid.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <zlib.h>

namespace wb::crate {
namespace {

void png_put32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>((v >> s) & 0xff));
}

void png_chunk(std::vector<unsigned char>& out, const char* type, const std::vector<unsigned char>& data) {
  png_put32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  png_put32(out, static_cast<std::uint32_t>(crc32(0L, out.data() + start, static_cast<uInt>(out.size() - start))));
}

}  // namespace

void write_png_grid(const std::string& path, const ImageGrid& g) {
  if (g.channels != 1 && g.channels != 3)
    throw std::invalid_argument(fmt::format("{}: image grid needs 1 or 3 channels, got {}", path, g.channels));
  const std::int64_t tile = g.channels * g.height * g.width;
  if (static_cast<std::int64_t>(g.pixels.size()) != g.rows * g.columns * tile || g.rows <= 0 || g.columns <= 0)
    throw std::invalid_argument(fmt::format("{}: image grid of {} x {} tiles of {} values has {} values", path, g.rows,
                                            g.columns, tile, g.pixels.size()));
  const std::int64_t k = std::max<std::int64_t>(1, g.scale), th = g.height * k, tw = g.width * k;
  const std::int64_t gap = 2, w = g.columns * (tw + gap) + gap, h = g.rows * (th + gap) + gap;
  const std::int64_t bpp = g.channels;
  std::vector<unsigned char> raw(static_cast<std::size_t>(h * (1 + w * bpp)), 128);
  for (std::int64_t y = 0; y < h; ++y) raw[static_cast<std::size_t>(y * (1 + w * bpp))] = 0;  // filter: none
  const double scale = g.hi > g.lo ? 255.0 / (g.hi - g.lo) : 0.0;
  for (std::int64_t r = 0; r < g.rows; ++r)
    for (std::int64_t c = 0; c < g.columns; ++c) {
      const float* t = g.pixels.data() + (r * g.columns + c) * tile;
      for (std::int64_t y = 0; y < th; ++y)
        for (std::int64_t x = 0; x < tw; ++x)
          for (std::int64_t ch = 0; ch < bpp; ++ch) {
            const double v = std::clamp((t[(ch * g.height + y / k) * g.width + x / k] - g.lo) * scale, 0.0, 255.0);
            const std::int64_t py = gap + r * (th + gap) + y, px = gap + c * (tw + gap) + x;
            raw[static_cast<std::size_t>(py * (1 + w * bpp) + 1 + px * bpp + ch)] =
                static_cast<unsigned char>(std::lround(std::isfinite(v) ? v : 0.0));
          }
    }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<unsigned char> z(zlen);
  if (compress2(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), 6) != Z_OK)
    throw std::runtime_error(fmt::format("{}: zlib compression failed", path));
  z.resize(zlen);
  std::vector<unsigned char> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<unsigned char> ihdr;
  png_put32(ihdr, static_cast<std::uint32_t>(w));
  png_put32(ihdr, static_cast<std::uint32_t>(h));
  ihdr.insert(ihdr.end(), {8, static_cast<unsigned char>(bpp == 3 ? 2 : 0), 0, 0, 0});
  png_chunk(png, "IHDR", ihdr);
  png_chunk(png, "IDAT", z);
  png_chunk(png, "IEND", {});
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write the image grid", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot write the image grid ({})", path, ec.message()));
}

}  // namespace wb::crate
