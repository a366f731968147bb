// A tiny prepared training set written by the test itself (face crops + training_json.json
// in the published structure), so the trainer tests need neither `dinet prepare` nor
// downloaded data. Each crop's colour encodes its video, clip and frame, and the mouth
// opening follows the first audio channel, so tests can check what was sampled.
#pragma once

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "dinet/landmarks.h"
#include "test_support.h"

namespace dinet::test {

struct TinySetOptions {
  int videos = 2;
  int clips = 7;
  int channels = 29;
  int crop_width = 60, crop_height = 78;  // native crop size, resized by the loader
  bool audio_feature_key = false;          // write our "audio_feature" key
  bool frame_numbers = true;               // name crops 000123.png (else a.png, b.png, ...)
  // Landmark CSVs in dir/split_video_25fps_landmark_openface (where the crops' folder has its
  // sibling in the published layout) for the first `landmark_csvs` videos; the inner-lip
  // opening follows tiny_feature.
  int landmark_csvs = 0;
};

// The value of feature channel 0 at frame t of video v: what the mouth opening follows.
inline float tiny_feature(int v, int t) { return static_cast<float>(std::sin(0.7 * t + v)); }

// Writes crops under dir/crops/<video>/<clip>/ and returns dir/training_json.json.
inline std::filesystem::path write_tiny_training_set(const std::filesystem::path& dir,
                                                     const TinySetOptions& o = {}) {
  namespace fs = std::filesystem;
  nlohmann::json root = nlohmann::json::object();
  for (int v = 0; v < o.videos; ++v) {
    const std::string video = "video_" + std::to_string(v);
    nlohmann::json clips = nlohmann::json::array();
    for (int c = 0; c < o.clips; ++c) {
      char clip_name[16];
      std::snprintf(clip_name, sizeof clip_name, "%06d", c);
      const fs::path clip_dir = dir / "crops" / video / clip_name;
      fs::create_directories(clip_dir);
      nlohmann::json names = nlohmann::json::array(), paths = nlohmann::json::array(),
                     features = nlohmann::json::array();
      for (int k = 0; k < 9; ++k) {
        const int t = c * 9 + k;
        char frame_name[16];
        if (o.frame_numbers)
          std::snprintf(frame_name, sizeof frame_name, "%06d.png", t);
        else
          std::snprintf(frame_name, sizeof frame_name, "%c.png", 'a' + k);
        // Background colour (B, G, R): video, clip, frame.
        cv::Mat face(o.crop_height, o.crop_width, CV_8UC3,
                     cv::Scalar(40 + 60 * v, 20 + 25 * c, 10 + 20 * k));
        const double open = 0.5 + 0.5 * tiny_feature(v, t);
        cv::ellipse(face, cv::Point(o.crop_width / 2, o.crop_height * 2 / 3),
                    cv::Size(o.crop_width / 5, 1 + static_cast<int>(open * o.crop_height / 8)), 0, 0, 360,
                    cv::Scalar(30, 30, 200), cv::FILLED);
        cv::imwrite((clip_dir / frame_name).string(), face);
        names.push_back(video + "/" + clip_name + "/" + frame_name);
        paths.push_back((clip_dir / frame_name).string());
        nlohmann::json row = nlohmann::json::array();
        for (int ch = 0; ch < o.channels; ++ch) row.push_back(ch == 0 ? tiny_feature(v, t) : 0.01f * ch);
        features.push_back(row);
      }
      clips.push_back({{"frame_name_list", names}, {"frame_path_list", paths}, {"deep_speech_list", features}});
    }
    root[video] = {{"video_clip_num", o.clips}, {"clip_data_list", clips}};
    if (v < o.landmark_csvs) {
      dinet::LandmarkTrack track;
      for (int t = 0; t < o.clips * 9; ++t) {
        dinet::FaceLandmarks p{};
        p[27] = {100, 100};  // nose top and chin: 100 px apart
        p[8] = {100, 200};
        p[48] = {80, 170};
        p[54] = {120, 170};
        p[62] = {100, 165};
        p[66] = {100, 166 + 10 * (1 + tiny_feature(v, t))};
        track.frames.push_back(p);
        track.success.push_back(1);
        track.confidence.push_back(0.98f);
      }
      fs::create_directories(dir / "split_video_25fps_landmark_openface");
      dinet::write_openface_csv(dir / "split_video_25fps_landmark_openface" / (video + ".csv"), track);
    }
    if (o.audio_feature_key) root[video]["audio_feature"] = o.channels == 29 ? "deepspeech" : "mel";
  }
  const fs::path json = dir / "training_json.json";
  std::ofstream(json) << root.dump();
  return json;
}

// A Python interpreter that can import torch ("" when none): Debian's python3-torch lives
// in /usr/bin/python3, which a python3 earlier on PATH (pyenv, venv) may hide.
inline std::string python_with_torch() {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(python) + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return python;
  }
  return "";
}

// tests/check_checkpoint.py on a checkpoint of ours: torch.load, then the published layout.
inline CommandResult check_checkpoint_in_pytorch(const std::string& python, const std::string& kind,
                                                 const std::filesystem::path& file) {
  const std::string cmd = python + " " + (source_dir() / "tests" / "check_checkpoint.py").string() + " " + kind +
                          " " + file.string() + " " + (shared_dir() / "fixtures" / "parity64").string() + " 2>&1";
  CommandResult result{-1, {}};
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return result;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace dinet::test
