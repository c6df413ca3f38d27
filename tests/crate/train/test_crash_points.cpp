// One atomic checkpoint (run_state.hpp): whatever file operation of a run fails or is the last one
// before the process dies, --resume finds a complete checkpoint (or none, and starts from scratch)
// and ends with the weights of an uninterrupted run, bit for bit. The seam is io/atomic_file.hpp's
// file-op hook: every write, fsync, rename and link of the run is failed (as a full disk or an I/O
// error would) or "crashed" (nothing cleaned up, a torn write) in turn. A real full disk (a small
// tmpfs, where this machine lets the test mount one) is the last case. (tests/cli/check_cli.py
// SIGKILLs a real `whitebox train` at random moments.)
#include <boost/test/unit_test.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "crate/io/atomic_file.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/run_state.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::read_bytes;
using wbtest::SyntheticTask;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {

// 96 images in batches of 32: 3 steps an epoch; 2 epochs, a checkpoint every 2 steps: checkpoints at
// steps 2, 3 (end of epoch 1), 5 (mid epoch 2, a mid-epoch position) and 6 (the end).
TrainOptions crash_run(const std::string& out) {
  TrainOptions o = wbtest::synthetic_run(out);
  o.batch_size = 32;
  o.checkpoint_every = 2;
  o.log_every = 1;
  o.threads = 1;  // a tiny model: threads would only add their start-up to each of the ~250 runs
  return o;
}

void train_synthetic(const TrainOptions& o) {
  SyntheticTask task(o);
  train(task, o);
}

// A scratch folder in memory (/dev/shm) where there is one: the test does ~250 short runs whose fsyncs
// would dominate on a disk; the file operations and their order are the same.
class ScratchDir {
 public:
  ScratchDir() {
    const fs::path base = fs::is_directory("/dev/shm") && ::access("/dev/shm", W_OK) == 0 ? fs::path("/dev/shm")
                                                                                            : fs::temp_directory_path();
    std::string tmpl = (base / "wb-crash-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

struct HookReset {
  ~HookReset() { set_file_op_hook({}); }
};

// Names in a run folder that are neither run files nor exactly one complete checkpoint.
std::vector<std::string> crash_leftovers(const std::string& dir) {
  static const std::regex checkpoint_dir(R"(checkpoint-[0-9]+)");
  std::vector<std::string> odd;
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (std::regex_match(n, checkpoint_dir)) ++checkpoints;
    else if (n != "options.json" && n != "metrics.jsonl" && n != "model.safetensors" && n != ".lock")
      odd.push_back(n);
  }
  if (checkpoints != 1) odd.push_back(fmt::format("{} checkpoint directories", checkpoints));
  return odd;
}

// Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN); tried once on a scratch folder.
boost::test_tools::assertion_result tmpfs_mountable(boost::unit_test::test_unit_id) {
  TempDir d;
  if (::mount("tmpfs", d.str().c_str(), "tmpfs", 0, "size=64k") != 0) {
    boost::test_tools::assertion_result r(false);
    r.message() << "cannot mount a tmpfs here (" << std::strerror(errno) << "): the full-disk test needs root";
    return r;
  }
  ::umount(d.str().c_str());
  return true;
}

class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    BOOST_REQUIRE_MESSAGE(::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0,
                          "mount tmpfs on " << dir << ": " << std::strerror(errno));
  }
  ~TmpfsMount() { ::umount2(dir_.c_str(), MNT_DETACH); }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

 private:
  std::string dir_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_points)

BOOST_AUTO_TEST_CASE(a_failure_or_a_crash_at_every_file_operation_resumes_bit_for_bit) {
  ScratchDir dir;
  // The uninterrupted run, listing its file operations.
  std::vector<std::pair<FileOp, std::string>> ops;
  {
    HookReset reset;
    set_file_op_hook([&](FileOp op, const std::string& path) {
      ops.emplace_back(op, path);
      return FaultAction::proceed;
    });
    train_synthetic(crash_run(dir / "ref"));
  }
  const std::string reference = read_bytes(dir / "ref/model.safetensors");
  BOOST_TEST(crash_leftovers(dir / "ref").empty());
  std::map<FileOp, int> kinds;
  for (const auto& [op, path] : ops) kinds[op] += 1;
  // 4 checkpoints, each: 2 files (write, fsync, rename, directory fsync), the directory (fsync, rename,
  // parent fsync) and the link (link, rename, directory fsync); plus options.json and metrics.jsonl.
  BOOST_TEST(kinds[FileOp::write] >= 10);
  BOOST_TEST(kinds[FileOp::fsync] >= 20);
  BOOST_TEST(kinds[FileOp::rename] >= 15);
  BOOST_TEST(kinds[FileOp::link] == 4);
  BOOST_TEST_MESSAGE(ops.size() << " file operations, each failed and crashed in turn");

  // Under ASan (wbtest::kSanitized) every third operation is tried in each mode, at offsets that differ
  // between the modes, so each kind of operation is still failed and crashed; the release build of the
  // same suite tries every one.
  const std::size_t stride = wbtest::kSanitized ? 3 : 1;
  for (const FaultAction mode : {FaultAction::fail, FaultAction::crash}) {
    const char* mode_name = mode == FaultAction::fail ? "fail" : "crash";
    std::map<FileOp, int> tried;
    for (std::size_t k = mode == FaultAction::fail ? 0 : stride / 2; k < ops.size(); k += stride) {
      tried[ops[k].first] += 1;
      const std::string out = dir / fmt::format("{}-{}", mode_name, k);
      const std::string where = fmt::format("{} at op {} ({} {})", mode_name, k, file_op_name(ops[k].first),
                                            fs::path(ops[k].second).filename().string());
      std::string error;
      {
        HookReset reset;
        std::size_t seen = 0;
        set_file_op_hook([&](FileOp, const std::string&) { return seen++ == k ? mode : FaultAction::proceed; });
        try {
          train_synthetic(crash_run(out));
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      BOOST_TEST(!error.empty(), where << ": the run did not stop");
      if (mode == FaultAction::fail)
        BOOST_TEST(error.find("simulated") == std::string::npos, where << ": " << error);
      TrainOptions again = crash_run(out);
      again.resume = true;
      try {
        train_synthetic(again);
      } catch (const std::exception& e) {
        BOOST_FAIL(where << ": --resume failed: " << e.what());
      }
      BOOST_TEST((read_bytes(out + "/model.safetensors") == reference), where);
      const auto ckpt = latest_checkpoint(out);
      BOOST_TEST((ckpt && read_bytes(ckpt->model) == reference), where);
      const auto odd = crash_leftovers(out);
      BOOST_TEST(odd.empty(), where << ": left " << (odd.empty() ? "" : odd.front()));
      fs::remove_all(out);
    }
    BOOST_TEST(tried.size() == kinds.size(), mode_name << ": not every kind of file operation was tried");
  }
}

BOOST_AUTO_TEST_CASE(a_full_disk_keeps_the_last_checkpoint_which_resumes_once_space_is_freed,
                     *boost::unit_test::precondition(tmpfs_mountable)) {
  TempDir dir;
  train_synthetic(crash_run(dir / "ref"));
  const std::string reference = read_bytes(dir / "ref/model.safetensors");

  const std::string mnt = dir / "small";
  const TmpfsMount tmpfs(mnt, "1m");
  const std::string out = mnt + "/run";
  TrainOptions first = crash_run(out);
  first.stop_after_epochs = 1;
  train_synthetic(first);
  const auto before = latest_checkpoint(out);
  BOOST_REQUIRE(before.has_value());
  const std::string before_state = read_bytes(before->state);
  // Fill the disk.
  {
    std::ofstream fill(mnt + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (fill.write(block.data(), static_cast<std::streamsize>(block.size())) && fill.flush()) {}
  }
  TrainOptions more = crash_run(out);
  more.resume = true;
  std::string error;
  try {
    train_synthetic(more);
  } catch (const std::exception& e) {
    error = e.what();
  }
  BOOST_TEST(error.find("No space left on device") != std::string::npos, error);
  // The last complete checkpoint is still there, whole, and nothing half-written is left about.
  const auto after = latest_checkpoint(out);
  BOOST_REQUIRE(after.has_value());
  BOOST_TEST(after->dir == before->dir);
  BOOST_TEST((read_bytes(after->state) == before_state));
  BOOST_TEST(describe_nonfinite(read_safetensors(after->model).tensors).empty());
  for (const auto& e : fs::directory_iterator(out))  // the failed writer removed its temporaries itself
    BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos, e.path().string());
  // Space freed, the run resumes from it and ends where the uninterrupted one did.
  fs::remove(mnt + "/filler");
  train_synthetic(more);
  BOOST_TEST((read_bytes(out + "/model.safetensors") == reference));
  BOOST_TEST(crash_leftovers(out).empty());
}

BOOST_AUTO_TEST_CASE(a_folder_without_a_complete_checkpoint_starts_afresh_or_from_scratch) {
  TempDir dir;
  train_synthetic(crash_run(dir / "ref"));
  const std::string reference = read_bytes(dir / "ref/model.safetensors");
  for (const bool resume : {false, true}) {
    const std::string out = dir / (resume ? "resumed" : "fresh");
    // A run that dies while committing its first checkpoint: a staged directory, no checkpoint.
    {
      HookReset reset;
      set_file_op_hook([&](FileOp op, const std::string& path) {
        return op == FileOp::rename && fs::path(path).filename().string().rfind("checkpoint-", 0) == 0
                   ? FaultAction::crash
                   : FaultAction::proceed;
      });
      BOOST_CHECK_THROW(train_synthetic(crash_run(out)), SimulatedCrash);
    }
    BOOST_TEST(!latest_checkpoint(out).has_value());
    bool staged = false;
    for (const auto& e : fs::directory_iterator(out)) staged |= e.path().filename().string().rfind(".checkpoint-", 0) == 0;
    BOOST_TEST(staged);  // the crash left its temporary directory
    TrainOptions again = crash_run(out);
    again.resume = resume;
    train_synthetic(again);  // neither refused as "already holds a run" nor as "no checkpoint"
    BOOST_TEST((read_bytes(out + "/model.safetensors") == reference), (resume ? "--resume" : "fresh"));
    BOOST_TEST(crash_leftovers(out).empty());
  }
}

BOOST_AUTO_TEST_CASE(an_older_whitebox_run_folder_still_resumes) {
  // The layout before checkpoint directories: model.safetensors and train_state.safetensors side by side.
  TempDir dir;
  train_synthetic(crash_run(dir / "ref"));
  const std::string reference = read_bytes(dir / "ref/model.safetensors");
  const std::string out = dir / "old";
  TrainOptions first = crash_run(out);
  first.stop_after_epochs = 1;
  train_synthetic(first);
  const auto ckpt = latest_checkpoint(out);
  BOOST_REQUIRE(ckpt.has_value());
  fs::remove(out + "/model.safetensors");
  fs::copy_file(ckpt->model, out + "/model.safetensors");
  fs::rename(ckpt->state, out + "/train_state.safetensors");
  fs::remove_all(ckpt->dir);
  const auto old = latest_checkpoint(out);
  BOOST_TEST((old && old->number == 0 && old->state == out + "/train_state.safetensors"));
  BOOST_CHECK_THROW(train_synthetic(crash_run(out)), std::invalid_argument);  // a run is there
  TrainOptions more = crash_run(out);
  more.resume = true;
  train_synthetic(more);
  BOOST_TEST((read_bytes(out + "/model.safetensors") == reference));
  BOOST_TEST(!fs::exists(out + "/train_state.safetensors"));  // replaced by the new layout's checkpoint
  BOOST_TEST(crash_leftovers(out).empty());
}

BOOST_AUTO_TEST_SUITE_END()
