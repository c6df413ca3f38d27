// The one way a test says it needs an installed dataset. Where the dataset is missing the test is not
// run and is reported as skipped, with the reason, in the console log and in the JUnit file
// (<skipped/>, which scripts/count_tests.py counts as skipped): never a silent pass.
//
//   BOOST_AUTO_TEST_CASE(trains_on_real_images, *wbtest::require_dataset("fashion-mnist")) { ... }
//
//   require_dataset(name, dir = "")    a Boost.Test precondition decorator: the test runs only when
//                                      dataset_available(name, dir) holds. `name` is a name of the
//                                      dataset registry (datasets/registry.hpp); an unknown name throws
//                                      std::invalid_argument when the test is registered (a typo must
//                                      not turn into a skip).
//   dataset_available(name, dir = "")  whether every file of both splits of `name` is in `dir` (""
//                                      = the dataset's default location: data::kFashionMnistDir for
//                                      fashion-mnist; the others have none); false with a message
//                                      naming what is missing.
#pragma once

#include <boost/test/unit_test.hpp>

#include <string>

namespace wbtest {

boost::test_tools::assertion_result dataset_available(const std::string& name, const std::string& dir = "");
boost::unit_test::decorator::precondition require_dataset(const std::string& name, const std::string& dir = "");

}  // namespace wbtest
