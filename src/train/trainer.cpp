#include "train/trainer.h"

#include <c10/util/Exception.h>

#include <algorithm>

#include "dinet/error.h"

namespace dinet::train {

void claim_result_path(const TrainRunOptions& o, const std::string& prefix, bool main) {
  if (!main || o.resume) return;
  const std::filesystem::path log = o.result_path / "train_log.jsonl";
  std::error_code ec;
  const bool has_log = std::filesystem::exists(log, ec);
  std::optional<FoundCheckpoint> checkpoint = newest_checkpoint(o.result_path, prefix);
  if (!has_log && !checkpoint) return;
  if (!o.force)
    throw Error(o.result_path.string(), std::string("holds another run's ") +
                                            (checkpoint ? checkpoint->file.filename().string() : "train_log.jsonl") +
                                            ": add --resume to continue it or --force to start over");
  std::filesystem::remove(log, ec);
  for (const FoundCheckpoint& old : checkpoints(o.result_path, prefix)) std::filesystem::remove(old.file);
}

void remove_older_checkpoints(const std::filesystem::path& dir, const std::string& prefix, int keep) {
  if (keep <= 0) return;
  std::vector<FoundCheckpoint> found = checkpoints(dir, prefix);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.epoch > b.epoch; });
  for (size_t k = static_cast<size_t>(keep); k < found.size(); ++k) std::filesystem::remove(found[k].file);
}

std::optional<FoundCheckpoint> resume_checkpoint(const TrainRunOptions& o, const std::string& prefix) {
  return o.resume ? newest_checkpoint(o.result_path, prefix) : std::nullopt;
}

CheckpointMeta starting_point(const std::function<CheckpointMeta(const std::filesystem::path&)>& load,
                              const std::optional<FoundCheckpoint>& found, const TrainRunOptions& o,
                              const RunSetup& run, const std::string& name, int64_t first_epoch) {
  CheckpointMeta meta{name, o.mouth_region_size, run.train.audio, first_epoch - 1, 0, o.seed};
  const bool main = run.dist.is_main();
  if (found) {
    meta = load(found->file);
    if (meta.seed < 0) meta.seed = o.seed;  // a published file records none
    if (main)
      std::fprintf(stderr, "dinet train %s: resuming from %s (epoch %lld done)\n", name.c_str(),
                   found->file.c_str(), static_cast<long long>(meta.epoch));
  } else if (o.resume && main) {
    std::fprintf(stderr, "dinet train %s: no checkpoint in %s to resume from; starting at epoch %lld\n", name.c_str(),
                 o.result_path.c_str(), static_cast<long long>(first_epoch));
  }
  return meta;
}

std::vector<EpochFigure> throughput_figures(const std::string& unit) {
  return {{"samples_per_s", "%.2f " + unit + "/s"}, {"wait_fraction", "waited on data %.1f%%", 100}, {"seconds", ""}};
}

void append_figures(EpochFigures& figures, const std::vector<EpochFigure>& declared, const std::vector<double>& values) {
  TORCH_CHECK(declared.size() == values.size(), "training stage: ", values.size(), " values for ", declared.size(),
              " declared figures");
  for (size_t k = 0; k < declared.size(); ++k) figures.values.emplace_back(declared[k].key, values[k]);
}

std::string EpochFigure::format(double value) const {
  char text[160];
  std::snprintf(text, sizeof text, shown.c_str(), value * scale);
  return text;
}

void report_epoch(const StageDescription& stage, const EpochFigures& figures, bool checkpoint, RankLog& log) {
  nlohmann::json record = {{"event", "epoch"}, {"epoch", figures.epoch}};
  for (const auto& [key, value] : figures.values) record[key] = value;
  record["checkpoint"] = checkpoint;
  log.write(record);

  // One line: the losses, then the evaluation, then the throughput, each group after a bar.
  std::string line = "epoch " + std::to_string(figures.epoch) + ":";
  const std::vector<EpochFigure> throughput = throughput_figures(stage.unit);
  size_t k = 0;
  for (const std::vector<EpochFigure>* group : {&stage.losses, &stage.evaluation, &throughput}) {
    std::string text;
    for (const EpochFigure& figure : *group) {
      const double value = figures.values.at(k++).second;
      if (figure.shown.empty()) continue;
      text += (text.empty() ? " " : ", ") + figure.format(value);
    }
    if (!text.empty()) line += (group == &stage.losses ? "" : " |") + text;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace dinet::train
