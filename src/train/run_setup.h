// The start every trainer shares: options checked, threads set, the training json read and
// split, the result folder ready. A trainer then builds its networks and loops.
#pragma once

#include <string>

#include "dinet/crop.h"
#include "dinet/train.h"
#include "train/compute.h"
#include "train/run_files.h"
#include "train/training_set.h"

namespace dinet::train {

struct RunSetup {
  TrainingSet train;    // what the epochs draw from
  TrainingSet heldout;  // evaluation data; empty when options.holdout is 0
  FaceSize face;
  Compute compute;
};

// `min_clips`: clips a training video needs (6 for the frame recipe); shorter videos are
// dropped with a note on stderr. Throws dinet::Error for bad options or unusable data.
RunSetup setup_run(const TrainRunOptions& options, size_t min_clips, const std::string& trainer);

// The record that opens a run in train_log.jsonl: trainer, data, sizes, device, threads.
nlohmann::json run_record(const TrainRunOptions& options, const RunSetup& setup, const std::string& trainer);

}  // namespace dinet::train
