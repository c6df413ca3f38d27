#include <boost/test/unit_test.hpp>

#include <chrono>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"
#include "tensor/tensor.hpp"
#include "tests/support/check.hpp"

using namespace wb;

BOOST_AUTO_TEST_SUITE(tensor_basics)

BOOST_AUTO_TEST_CASE(factories_fill_and_read_back) {
  const Tensor z = Tensor::zeros({2, 3});
  BOOST_TEST(z.numel() == 6);
  BOOST_TEST(z.dim() == 2);
  BOOST_TEST(z.is_contiguous());
  BOOST_TEST(wbtest::allclose(z, {0, 0, 0, 0, 0, 0}));
  BOOST_TEST(wbtest::allclose(Tensor::full({2}, 2.5, DType::f64), {2.5, 2.5}));
  BOOST_TEST(wbtest::allclose(Tensor::arange(4), {0, 1, 2, 3}));
  const Tensor v = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  BOOST_TEST(v.dtype() == DType::f64);
  BOOST_TEST(v.size(-1) == 3);
  BOOST_TEST(v.stride(0) == 3);
  BOOST_TEST(Tensor::scalar(7.0).item() == 7.0);
}

BOOST_AUTO_TEST_CASE(storage_is_64_byte_aligned) {
  for (std::int64_t n : {1, 3, 17, 1000}) {
    const Tensor t = Tensor::empty({n});
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
  }
}

BOOST_AUTO_TEST_CASE(copies_are_shallow_and_clone_is_deep) {
  Tensor a = Tensor::zeros({3});
  Tensor b = a;  // shares storage
  b.data<float>()[1] = 5.0f;
  BOOST_TEST(a.data<float>()[1] == 5.0f);
  Tensor c = prim::clone(a);
  c.data<float>()[1] = 9.0f;
  BOOST_TEST(a.data<float>()[1] == 5.0f);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_problem) {
  BOOST_CHECK_THROW(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), std::invalid_argument);
  BOOST_CHECK_THROW(Tensor::zeros({2, 2}).item(), std::invalid_argument);
  BOOST_CHECK_THROW(Tensor::zeros({2}).data<double>(), std::invalid_argument);
  BOOST_CHECK_THROW(Tensor::empty({-1}), std::invalid_argument);
  try {
    (void)Tensor::zeros({2}).size(3);
    BOOST_FAIL("size(3) must throw");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("axis 3") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(cast_between_dtypes) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1.5f, -2.25f}, {2});
  const Tensor b = prim::cast(a, DType::f64);
  BOOST_TEST(b.dtype() == DType::f64);
  BOOST_TEST(wbtest::allclose(b, {1.5, -2.25}, 0, 0));
  const Tensor i = prim::cast(a, DType::i64);
  BOOST_TEST((i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2}));
}

BOOST_AUTO_TEST_CASE(printing_shows_shape_dtype_and_values) {
  const Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const std::string s = fmt::format("{}", t);
  BOOST_TEST(s.find("Tensor[[2, 2], f32, cpu]") != std::string::npos, s);
  BOOST_TEST(s.find("[[1, 2], [3, 4]]") != std::string::npos, s);
  const std::string long_s = Tensor::arange(100).str();
  BOOST_TEST(long_s.find("...") != std::string::npos, long_s);
}

BOOST_AUTO_TEST_CASE(caching_allocator_reuses_blocks) {
  // The same size freed and allocated again comes back from the cache: live bytes return to the
  // baseline and no new OS allocation is needed.
  const auto before = host_memory_stats();
  { Tensor t = Tensor::empty({1 << 16}); }
  const auto mid = host_memory_stats();
  BOOST_TEST(mid.live_bytes == before.live_bytes);
  BOOST_TEST(mid.cached_bytes >= (1 << 18));
  { Tensor t = Tensor::empty({1 << 16}); }
  BOOST_TEST(host_memory_stats().cached_bytes == mid.cached_bytes);
}

BOOST_AUTO_TEST_CASE(parallel_for_covers_range_once) {
  std::vector<int> hits(10007, 0);
  parallel_for(static_cast<std::int64_t>(hits.size()), 100, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)] += 1;
  });
  bool all_one = true;
  for (int h : hits) all_one = all_one && h == 1;
  BOOST_TEST(all_one);
  BOOST_CHECK_THROW(parallel_for(100, 1, [](std::int64_t, std::int64_t) { throw std::runtime_error("x"); }),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(pool_runs_back_to_back_and_spaced_regions) {
  // Workers and the caller spin briefly between regions, then sleep (tensor/parallel.cpp): regions that
  // follow at once (caught by the spin), regions after a pause longer than the spin (woken from sleep),
  // errors thrown in a worker's chunk, and pool sizes above the core count, each region covering its
  // range exactly once.
  const int saved = num_threads();
  for (int threads : {2, 3, 5}) {
    set_num_threads(threads);
    std::vector<int> hits(997, 0);
    for (int region = 0; region < 3000; ++region) {
      if (region % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      parallel_for(static_cast<std::int64_t>(hits.size()), 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)] += 1;
      });
    }
    bool all = true;
    for (int h : hits) all = all && h == 3000;
    BOOST_TEST(all, threads << " threads: a region missed or repeated a chunk");
    BOOST_CHECK_THROW(parallel_for(100, 1, [](std::int64_t b, std::int64_t) {
                        if (b > 0) throw std::runtime_error("in a worker");
                      }),
                      std::runtime_error);
  }
  set_num_threads(saved);
}

BOOST_AUTO_TEST_CASE(cuda_device_reports_clearly_without_gpu) {
  if (cuda_available()) return;  // exercised by the cuda suite on GPU machines
  try {
    (void)Tensor::empty({4}, DType::f32, Device::CUDA);
    BOOST_FAIL("allocating on a missing CUDA device must throw");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).find("CUDA") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(shape_products_are_checked_for_overflow) {
  const std::int64_t big = std::int64_t{1} << 32;
  BOOST_TEST(numel_of({big, big / 2 - 1}) == big * (big / 2 - 1));
  BOOST_CHECK_THROW(numel_of({big, big}), std::overflow_error);  // 2^64
  BOOST_CHECK_THROW(numel_of({INT64_MAX, 2}), std::overflow_error);
  BOOST_TEST(numel_of({big, big, 0}) == 0);  // a zero dimension wins, wherever it is
  BOOST_TEST(numel_of({0, big, big}) == 0);
  BOOST_TEST(numel_of({}) == 1);
  try {
    (void)numel_of({big, 3, big});
    BOOST_FAIL("expected an overflow error");
  } catch (const std::overflow_error& e) {
    BOOST_TEST(std::string(e.what()).find("shape [4294967296, 3, 4294967296]") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(contiguous_strides({2, big, big}), std::overflow_error);
  BOOST_TEST((contiguous_strides({big, big / 2 - 1}) == Shape{big / 2 - 1, 1}));
  // Tensor::empty: the element count and the byte count (x 8 for f64) are both checked.
  BOOST_CHECK_THROW(Tensor::empty({big, big}), std::overflow_error);
  BOOST_CHECK_THROW(Tensor::empty({std::int64_t{1} << 61, 4}, DType::f64), std::overflow_error);
  BOOST_CHECK_THROW(Tensor::empty({std::int64_t{1} << 61}, DType::f64), std::overflow_error);  // 2^64 bytes
  BOOST_TEST(Tensor::empty({big, 0, big}).numel() == 0);
  BOOST_TEST(checked_mul(3, 4, "x") == 12);
  BOOST_CHECK_THROW(checked_mul(INT64_MAX / 2 + 1, 2, "x"), std::overflow_error);
  BOOST_CHECK_THROW(checked_add(INT64_MAX, 1, "x"), std::overflow_error);
}

BOOST_AUTO_TEST_SUITE_END()
