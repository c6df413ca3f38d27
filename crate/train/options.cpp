#include "crate/train/options.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/text_checkpoint.hpp"

namespace wb::crate {
using nlohmann::json;

json to_json(const TrainOptions& o) {
  json j = {{"model", to_json(o.model)},
          {"data", o.data},
          {"data_dir", o.data_dir},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"min_lr", o.min_lr},
          {"warmup_epochs", o.warmup_epochs},
          {"label_smoothing", o.label_smoothing},
          {"clip_grad", o.clip_grad},
          {"momentum", o.momentum},
          {"augment", o.augment},
          {"crop_padding", o.crop_padding},
          {"flip", o.flip},
          {"seed", o.seed},
          {"threads", o.threads},
          {"train_limit", o.train_limit},
          {"test_limit", o.test_limit},
          {"out_dir", o.out_dir},
          {"measure_every", o.measure_every},
          {"measure_limit", o.measure_limit},
          {"srr_weight", o.srr_weight},
          {"init_from", o.init_from},
          {"init_partial", o.init_partial},
          {"freeze", o.freeze}};
  if (o.task == "lm") {  // a language model's run holds its own model section
    j["task"] = o.task;
    j.erase("model");
    j["text_model"] = o.text_model;
    j["text"] = nlohmann::json::parse(text_config_json(o.text));
    j["tokenizer"] = o.tokenizer;
    j["cache_dir"] = o.cache_dir;
    j["steps_per_epoch"] = o.steps_per_epoch;
    j["warmup_steps"] = o.warmup_steps;
  } else if (o.task != "classification") {  // classification runs keep their options.json as before
    j["task"] = o.task;
    j["mae"] = to_json(o.mae);
  }
  if (o.warmup_steps >= 0) j["warmup_steps"] = o.warmup_steps;
  if (o.task == "lm" || o.adam_beta2 != 0.999) j["adam_beta2"] = o.adam_beta2;  // older runs' files stay as they were
  return j;
}

TrainOptions train_options_from_json(const json& j) {
  TrainOptions o;
  auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) j.at(key).get_to(field);
  };
  if (j.contains("model")) o.model = config_from_json(j.at("model"));
  get("task", o.task);
  if (j.contains("mae")) o.mae = mae_config_from_json(j.at("mae"));
  get("text_model", o.text_model);
  if (j.contains("text")) o.text = parse_text_config_json(j.at("text").dump(), "options.json 'text'");
  get("tokenizer", o.tokenizer);
  get("cache_dir", o.cache_dir);
  get("steps_per_epoch", o.steps_per_epoch);
  get("warmup_steps", o.warmup_steps);
  get("adam_beta2", o.adam_beta2);
  get("data", o.data);
  get("data_dir", o.data_dir);
  get("epochs", o.epochs);
  get("batch_size", o.batch_size);
  get("optimizer", o.optimizer);
  get("lr", o.lr);
  get("weight_decay", o.weight_decay);
  get("min_lr", o.min_lr);
  get("warmup_epochs", o.warmup_epochs);
  get("label_smoothing", o.label_smoothing);
  get("clip_grad", o.clip_grad);
  get("momentum", o.momentum);
  get("augment", o.augment);
  get("crop_padding", o.crop_padding);
  get("flip", o.flip);
  get("seed", o.seed);
  get("threads", o.threads);
  get("train_limit", o.train_limit);
  get("test_limit", o.test_limit);
  get("out_dir", o.out_dir);
  get("measure_every", o.measure_every);
  get("measure_limit", o.measure_limit);
  get("srr_weight", o.srr_weight);
  get("init_from", o.init_from);
  get("init_partial", o.init_partial);
  get("freeze", o.freeze);
  return o;
}

void validate(const TrainOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("train: " + m); };
  auto in_range = [&](const char* flag, std::int64_t v, std::int64_t lo, std::int64_t hi) {
    if (v < lo || v > hi) bad(fmt::format("{} must be in [{}, {}], got {}", flag, lo, hi, v));
  };
  in_range("--epochs", o.epochs, 1, 1'000'000);
  in_range("--batch-size", o.batch_size, 1, 10'000'000);
  in_range("--threads", o.threads, 0, 1024);
  constexpr std::int64_t kCount = 1'000'000'000'000;
  in_range("--train-limit", o.train_limit, 0, kCount);
  in_range("--test-limit", o.test_limit, 0, kCount);
  in_range("--log-every", o.log_every, 0, kCount);
  in_range("--checkpoint-every", o.checkpoint_every, 0, kCount);
  in_range("--stop-after-epochs", o.stop_after_epochs, 0, kCount);
  if (!(o.lr > 0)) bad(fmt::format("--lr must be positive, got {}", o.lr));
  if (o.weight_decay < 0) bad(fmt::format("--weight-decay must be >= 0, got {}", o.weight_decay));
  if (o.label_smoothing < 0 || o.label_smoothing >= 1) bad(fmt::format("--label-smoothing must be in [0, 1), got {}", o.label_smoothing));
  if (!(o.adam_beta2 >= 0 && o.adam_beta2 < 1)) bad(fmt::format("--beta2 must be in [0, 1), got {}", o.adam_beta2));
  if (o.clip_grad < 0) bad(fmt::format("--clip-grad must be >= 0, got {}", o.clip_grad));
  if (o.warmup_epochs < 0 || o.warmup_epochs > o.epochs) bad(fmt::format("--warmup-epochs must be in [0, epochs], got {}", o.warmup_epochs));
  if (o.optimizer != "adamw" && o.optimizer != "lion" && o.optimizer != "sgd")
    bad(fmt::format("--optimizer must be adamw, lion or sgd, got '{}'", o.optimizer));
  if (o.out_dir.empty()) bad("--out must name a directory");
  if (o.measure_every < 0 || o.measure_limit <= 0) bad("--measure-every must be >= 0 and --measure-limit positive");
  if (!(o.srr_weight >= 0)) bad(fmt::format("--srr-weight must be >= 0, got {}", o.srr_weight));
  if (o.init_partial && o.init_from.empty()) bad("--init-partial needs --init-from");
  if (o.task != "classification" && o.task != "mae" && o.task != "mae-classify" && o.task != "lm")
    bad(fmt::format("--task must be classification, mae, mae-classify or lm, got '{}'", o.task));
  in_range("--warmup-steps", o.warmup_steps, -1, kCount);
  if (o.task == "lm") {
    in_range("--steps-per-epoch (--eval-every)", o.steps_per_epoch, 1, kCount);
    if (o.warmup_steps > o.epochs * o.steps_per_epoch)
      bad(fmt::format("--warmup-steps {} exceeds the run's {} steps", o.warmup_steps, o.epochs * o.steps_per_epoch));
    if (o.srr_weight > 0) bad("--srr-weight is not defined for --task lm (its layers are not CrateLayers)");
    if (!o.init_from.empty() && o.init_partial) bad("--init-partial is not supported for --task lm");
    try {
      o.text.validate();
    } catch (const std::invalid_argument& e) {
      bad(fmt::format("model '{}': {}", o.text_model, e.what()));
    }
  } else if (o.task != "classification") o.mae.validate();
  else o.model.validate();
}

json trajectory_fields(const TrainOptions& o) {
  json j = to_json(o);
  j.erase("out_dir");
  j.erase("threads");
  j.erase("data_dir");
  j.erase("measure_every");
  j.erase("measure_limit");
  return j;
}

}  // namespace wb::crate
