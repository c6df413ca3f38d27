#define BOOST_TEST_MODULE crate
#include <boost/test/unit_test.hpp>
