// The atomic writers (io/atomic_file.hpp): files and committed directories get the user's umask (not
// mkstemp's 0600), a failure leaves the old contents and no temporary, a simulated crash leaves its
// temporary for remove_temporaries, and a staged directory appears whole or not at all.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "crate/io/atomic_file.hpp"
#include "tests/support/files.hpp"

using namespace wb::crate;
using wbtest::read_bytes;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Sets the umask for a scope.
struct UmaskScope {
  explicit UmaskScope(mode_t m) : saved(::umask(m)) {}
  ~UmaskScope() { ::umask(saved); }
  mode_t saved;
};

struct FileOpHookReset {
  ~FileOpHookReset() { set_file_op_hook({}); }
};

std::size_t entries_in(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(files_and_directories_get_the_users_umask) {
  TempDir dir;
  for (const mode_t m : {mode_t{022}, mode_t{027}, mode_t{002}}) {
    const UmaskScope scope(m);
    const std::string f = dir / "f.json";
    write_file_atomic(f, "{}");
    BOOST_TEST(mode_of(f) == (0666 & ~m));
    StagedDir staged(dir.str(), "d");
    write_file_atomic(staged.path() + "/x", "x");
    staged.commit();
    BOOST_TEST(mode_of(dir / "d") == (0777 & ~m));
    fs::remove_all(dir / "d");
    link_file_atomic(f, dir / "g.json");
    BOOST_TEST(mode_of(dir / "g.json") == (0666 & ~m));
    fs::remove(dir / "g.json");
  }
}

BOOST_AUTO_TEST_CASE(a_failed_step_keeps_the_old_contents_and_no_temporary) {
  TempDir dir;
  const std::string f = dir / "f.txt";
  write_file_atomic(f, "old");
  for (const FileOp op : {FileOp::write, FileOp::fsync, FileOp::rename}) {
    FileOpHookReset reset;
    set_file_op_hook([&](FileOp o, const std::string&) { return o == op ? FaultAction::fail : FaultAction::proceed; });
    try {
      write_file_atomic(f, "new contents");
      BOOST_FAIL("the injected failure must throw");
    } catch (const SimulatedCrash&) {
      BOOST_FAIL("a failure is not a crash");
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()).find(f) == 0, e.what());  // names the file
    }
    BOOST_TEST(read_bytes(f) == "old", file_op_name(op));
    BOOST_TEST(entries_in(dir.str()) == 1u, file_op_name(op));
  }
}

BOOST_AUTO_TEST_CASE(a_crash_leaves_a_temporary_that_remove_temporaries_finds) {
  TempDir dir;
  const std::string f = dir / "f.txt";
  write_file_atomic(f, "old");
  {
    FileOpHookReset reset;
    set_file_op_hook([](FileOp o, const std::string&) { return o == FileOp::write ? FaultAction::crash : FaultAction::proceed; });
    BOOST_CHECK_THROW(write_file_atomic(f, "a torn write"), SimulatedCrash);
    BOOST_CHECK_THROW({ StagedDir staged(dir.str(), "ckpt"); write_file_atomic(staged.path() + "/x", "x"); }, SimulatedCrash);
  }
  BOOST_TEST(read_bytes(f) == "old");
  BOOST_TEST(entries_in(dir.str()) == 3u);  // f.txt, .f.txt.tmp.XXXXXX, .ckpt.tmp.XXXXXX/
  const auto removed = remove_temporaries(dir.str());
  BOOST_TEST(removed.size() == 2u);
  BOOST_TEST(entries_in(dir.str()) == 1u);
  // Names that merely look alike are kept.
  write_file_atomic(dir / "notes.tmp.txt", "");
  write_file_atomic(dir / ".hidden", "");
  BOOST_TEST(remove_temporaries(dir.str()).empty());
}

BOOST_AUTO_TEST_CASE(a_staged_directory_is_published_whole_or_not_at_all) {
  TempDir dir;
  {
    StagedDir staged(dir.str(), "ckpt");
    write_file_atomic(staged.path() + "/a", "a");
  }  // not committed: removed
  BOOST_TEST(entries_in(dir.str()) == 0u);
  {
    FileOpHookReset reset;
    set_file_op_hook([](FileOp o, const std::string&) { return o == FileOp::rename ? FaultAction::fail : FaultAction::proceed; });
    StagedDir staged(dir.str(), "ckpt");
    BOOST_CHECK_THROW(write_file_atomic(staged.path() + "/a", "a"), std::runtime_error);
  }
  BOOST_TEST(entries_in(dir.str()) == 0u);
  StagedDir staged(dir.str(), "ckpt");
  write_file_atomic(staged.path() + "/a", "a");
  write_file_atomic(staged.path() + "/b", "b");
  staged.commit();
  BOOST_TEST(read_bytes(dir / "ckpt/a") == "a");
  BOOST_TEST(read_bytes(dir / "ckpt/b") == "b");
  BOOST_TEST(entries_in(dir.str()) == 1u);
  // The name is taken: a second commit to it fails and leaves the first.
  StagedDir again(dir.str(), "ckpt");
  write_file_atomic(again.path() + "/a", "other");
  BOOST_CHECK_THROW(again.commit(), std::runtime_error);
  BOOST_TEST(read_bytes(dir / "ckpt/a") == "a");
}

BOOST_AUTO_TEST_SUITE_END()
