// `dinet synth`: synthetic talking-face clips, so data preparation, training, inference
// and the tests run without downloaded data.
//
// Each clip is a drawn face (its own skin, hair, proportions, size and place in the frame,
// moving its head gently and blinking) whose lips follow a speech-like audio track: open
// vowels open the mouth, /i/ spreads it, /u/ rounds it, /m/ /p/ and pauses close it. The
// relation is exact and frame-accurate, so a sync network can learn it. Written in the
// published layout:
//
//   <out_dir>/synth_000.mp4                             H.264, 25 fps, AAC audio (16 kHz)
//   <out_dir>_landmark_openface/synth_000.csv           the exact 68 landmarks, OpenFace CSV
//
// Every file is written atomically; the video last, so a clip is complete when its video
// exists. The same seed gives the same clips; clip k does not depend on --videos or on
// how many clips run at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dinet {

struct SynthOptions {
  std::filesystem::path out_dir;  // the videos; landmarks go to the sibling folder
  int videos = 1;
  double seconds = 10.0;          // per clip, rounded to whole frames at 25 fps
  uint64_t seed = 0;
  int width = 512, height = 512;  // even, at least 64
  int threads = 0;                // clips made at once; <= 0: every core
  bool show_progress = true;
  // Set from a signal handler: clips being made stop between frames and leave nothing
  // behind, and the result says the run was interrupted.
  const std::atomic<bool>* cancel = nullptr;
};

struct SynthResult {
  std::vector<std::filesystem::path> written;  // videos made now
  std::vector<std::filesystem::path> skipped;  // complete from an earlier run, left as they were
  bool interrupted = false;
};

// Makes the clips that are not already complete. A clip whose video exists but whose
// landmark CSV does not is an error (it is never overwritten); a CSV without its video is
// left from an interrupted run and is made again. Throws dinet::Error, after finishing the
// other clips, when any clip fails.
SynthResult synthesize_clips(const SynthOptions& options);

// `dir` + "_landmark_openface", beside `dir` (a trailing slash ignored).
std::filesystem::path landmark_dir_for(const std::filesystem::path& video_dir);

// "synth_007" for clip 7.
std::string synth_clip_name(int index);

}  // namespace dinet
