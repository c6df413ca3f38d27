// One writer per run folder: crate::train holds an flock on <out>/.lock for the whole run. A second
// writer is refused with the folder and the holder's pid; the lock file a dead holder leaves behind
// does not block the next run.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "crate/io/file_lock.hpp"
#include "crate/train/loop.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::SyntheticTask;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {

// A child process that holds an flock on `path` (with its pid in the file) until release() or death.
class LockHolder {
 public:
  explicit LockHolder(const std::string& path) {
    int ready[2], hold[2];
    BOOST_REQUIRE(::pipe(ready) == 0 && ::pipe(hold) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // only async-signal-safe calls from here on
      ::close(ready[0]), ::close(hold[1]);
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
      char ok = (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) ? '1' : '0';
      char digits[16];
      int n = 0;
      for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
      for (int i = n - 1; i >= 0; --i) (void)!::write(fd, &digits[i], 1);
      (void)!::write(ready[1], &ok, 1);
      char c;
      (void)!::read(hold[0], &c, 1);  // returns when the parent closes its end
      ::_exit(0);
    }
    ::close(ready[1]), ::close(hold[0]);
    hold_ = hold[1];
    char ok = '0';
    BOOST_REQUIRE(::read(ready[0], &ok, 1) == 1);
    ::close(ready[0]);
    BOOST_REQUIRE_MESSAGE(ok == '1', "the child could not lock " << path);
  }
  ~LockHolder() { release(); }
  void release() {
    if (pid_ <= 0) return;
    ::close(hold_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int hold_ = -1;
};

std::string train_error(const TrainOptions& o) {
  try {
    SyntheticTask task(o);
    train(task, o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_lock)

BOOST_AUTO_TEST_CASE(a_second_writer_is_refused_with_the_folder_and_the_pid) {
  TempDir dir;
  const std::string out = dir / "run";
  fs::create_directories(out);
  LockHolder holder(out + "/.lock");
  TrainOptions o = wbtest::synthetic_run(out);
  o.epochs = 1;
  const std::string msg = train_error(o);
  BOOST_TEST_INFO(msg);
  BOOST_TEST(msg.find("in use by another whitebox process") != std::string::npos);
  BOOST_TEST(msg.find(out) != std::string::npos);
  BOOST_TEST(msg.find(fmt::format("pid {}", holder.pid())) != std::string::npos);
  BOOST_TEST(!fs::exists(fs::path(out) / "options.json"));  // refused before touching the folder
  BOOST_TEST(!fs::exists(fs::path(out) / "model.safetensors"));

  holder.release();  // the holder is dead; its lock file with its pid is still there
  BOOST_REQUIRE(fs::exists(fs::path(out) / ".lock"));
  BOOST_TEST(train_error(o) == "(no error)");
  BOOST_TEST(fs::exists(fs::path(out) / "model.safetensors"));
}

BOOST_AUTO_TEST_CASE(file_lock_is_reentrant_in_one_process_and_released_at_the_end) {
  TempDir dir;
  const std::string path = dir / ".lock";
  {
    const FileLock outer(path, "outer");
    const FileLock inner(path, "inner");  // ablate holds a run's lock around train, which takes it again
  }
  LockHolder holder(path);  // released by this process: another can take it
  bool refused = false;
  try {
    const FileLock again(path, "again");
  } catch (const std::runtime_error&) {
    refused = true;
  }
  BOOST_TEST(refused);
}

BOOST_AUTO_TEST_SUITE_END()
