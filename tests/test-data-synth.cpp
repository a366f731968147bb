// The synthetic talking-face data set: speech-driven mouth, exact landmarks, published
// layout, determinism, and files the rest of the pipeline can read.
#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <thread>

#include "data/synth_audio.h"
#include "data/synth_clip.h"
#include "data/synth_face.h"
#include "dinet/audio_features.h"
#include "dinet/crop.h"
#include "dinet/error.h"
#include "dinet/face.h"
#include "dinet/files.h"
#include "dinet/landmarks.h"
#include "dinet/media.h"
#include "dinet/synth.h"
#include "temporaries.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace dinet::synth;
using dinet::test::TempDir;
using dinet::test::temporaries_in;

namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// RMS of the audio samples of each 25 fps frame.
std::vector<double> frame_rms(const dinet::Audio& audio, int frames) {
  std::vector<double> rms(frames, 0.0);
  const double per_frame = audio.sample_rate / 25.0;
  for (int i = 0; i < frames; ++i) {
    const size_t a = size_t(std::llround(i * per_frame)),
                 b = std::min(audio.samples.size(), size_t(std::llround((i + 1) * per_frame)));
    double e = 0;
    for (size_t k = a; k < b; ++k) e += double(audio.samples[k]) * audio.samples[k];
    rms[i] = b > a ? std::sqrt(e / double(b - a)) : 0.0;
  }
  return rms;
}

// The gap between the inner lips (points 62 and 66), per frame.
std::vector<double> inner_lip_gap(const std::vector<dinet::FaceLandmarks>& frames) {
  std::vector<double> gap;
  for (const auto& f : frames) gap.push_back(cv::norm(f[66] - f[62]));
  return gap;
}

}  // namespace

TEST(SynthSpeech, SameSeedSameSoundAndFrameAlignedLength) {
  Rng a(7), b(7);
  const Speech s1 = synthesize_speech(random_voice(a), 50, 25, 16000, a);
  const Speech s2 = synthesize_speech(random_voice(b), 50, 25, 16000, b);
  ASSERT_EQ(s1.audio.samples.size(), 50u * 640);
  ASSERT_EQ(s1.mouth.size(), 50u);
  EXPECT_EQ(s1.audio.samples, s2.audio.samples);
  float peak = 0;
  for (float v : s1.audio.samples) peak = std::max(peak, std::abs(v));
  EXPECT_LE(peak, 0.9f);
  EXPECT_GT(peak, 0.05f);
}

TEST(SynthSpeech, MouthOpeningFollowsLoudnessAndClosesInSilence) {
  for (uint64_t seed : {1, 2, 3}) {
    Rng rng(seed);
    const Speech s = synthesize_speech(random_voice(rng), 250, 25, 16000, rng);
    const std::vector<double> rms = frame_rms(s.audio, 250);
    std::vector<double> open;
    int silent = 0, rounded = 0, spread = 0;
    for (int i = 0; i < 250; ++i) {
      open.push_back(s.mouth[i].open);
      // Inside a pause (not at its edges, where the lips are still closing or already
      // opening) the lips are together.
      if (i > 0 && i < 249 && std::max({rms[i - 1], rms[i], rms[i + 1]}) < 0.002) {
        ++silent;
        EXPECT_LT(s.mouth[i].open, 0.02) << "seed " << seed << " frame " << i;
      }
      rounded += s.mouth[i].spread < -0.5;
      spread += s.mouth[i].spread > 0.5;
    }
    const double r = pearson(open, rms);
    EXPECT_GT(r, 0.8) << "seed " << seed;
    std::printf("seed %d: r(open, rms) = %.3f, %d silent frames\n", int(seed), r, silent);
    EXPECT_GT(silent, 10) << "pauses between phrases";
    EXPECT_GT(rounded, 5);
    EXPECT_GT(spread, 5);
  }
}

TEST(SynthFace, IbugLayoutAndExactLipGap) {
  Rng rng(3);
  const FaceIdentity face = random_identity(rng);
  const dinet::FaceLandmarks closed = face_shape(face, {0, 0}, 1);
  const dinet::FaceLandmarks open = face_shape(face, {1, 0}, 1);
  EXPECT_NEAR(cv::norm(closed[66] - closed[62]), 0, 1e-6);
  EXPECT_NEAR(cv::norm(open[66] - open[62]), face.max_gap, 1e-6);
  EXPECT_GT(open[8].y, closed[8].y) << "the chin drops as the mouth opens";
  for (const auto* p : {&closed, &open}) {
    const auto& f = *p;
    EXPECT_NEAR(f[16].x - f[0].x, 1.0, 1e-6) << "face units: jaw 0 to 16 is 1";
    for (int k = 0; k < 68; ++k) EXPECT_LE(f[k].y, f[8].y + 1e-6) << "the chin is the lowest point, " << k;
    EXPECT_LT(f[19].y, f[37].y);   // brow above eye
    EXPECT_LT(f[37].y, f[41].y);   // upper lid above lower lid
    EXPECT_LT(f[39].x, f[42].x);   // right eye left of the left eye in the image
    EXPECT_LT(f[29].y, f[33].y);   // nose ridge above the tip
    EXPECT_LT(f[33].y, f[51].y);   // nose above the lips
    EXPECT_LT(f[48].x, f[54].x);   // mouth corners
    EXPECT_LT(f[51].y, f[62].y + 1e-6);
    EXPECT_LE(f[66].y, f[57].y);
  }
  const dinet::FaceLandmarks wide = face_shape(face, {0.3f, 1}, 1), round = face_shape(face, {0.3f, -1}, 1);
  EXPECT_GT(wide[54].x - wide[48].x, round[54].x - round[48].x);
  const dinet::FaceLandmarks blink = face_shape(face, {}, 0);
  EXPECT_NEAR(blink[37].y, blink[41].y, 0.01);
}

TEST(SynthClip, LandmarksInsideFrameAndPublishedCropsFit) {
  SynthClip clip({256, 256}, 75, 11);
  const auto& track = clip.landmarks();
  ASSERT_EQ(track.size(), 75u);
  std::vector<dinet::FaceLandmarks> truncated = track.frames;
  for (auto& f : truncated)
    for (auto& p : f) {
      ASSERT_GE(p.x, 0);
      ASSERT_GE(p.y, 0);
      ASSERT_LT(p.x, 256);
      ASSERT_LT(p.y, 256);
      p = cv::Point2f(std::trunc(p.x), std::trunc(p.y));
    }
  // Every 9-frame training clip passes the published crop check at both ends of the
  // training scale range.
  for (size_t first = 0; first + 9 <= truncated.size(); first += 9)
    for (double scale : {1.05, 1.15})
      EXPECT_TRUE(dinet::published_crop_radius({256, 256}, {truncated.data() + first, 9}, scale))
          << "frames " << first << ", scale " << scale;
  EXPECT_GT(clip.face_width(), 60);
  EXPECT_LT(clip.face_width(), 135);
  const double r = pearson(inner_lip_gap(track.frames), frame_rms(clip.audio(), 75));
  EXPECT_GT(r, 0.6);
  std::printf("r(|62-66|, rms) = %.3f\n", r);
}

TEST(SynthClip, SameSeedSameFramesOtherSeedOtherFace) {
  SynthClip a({128, 128}, 10, 5), b({128, 128}, 10, 5), c({128, 128}, 10, 6);
  cv::Mat fa, fb, fc;
  a.render(3, fa);
  b.render(3, fb);
  c.render(3, fc);
  EXPECT_EQ(cv::norm(fa, fb, cv::NORM_INF), 0);
  EXPECT_GT(cv::norm(fa, fc, cv::NORM_L1) / fa.total(), 10.0);
  EXPECT_EQ(a.landmarks().frames[3], b.landmarks().frames[3]);
}

TEST(SynthClip, OpenMouthIsDarkInsideAndLipsDiffer) {
  SynthClip clip({256, 256}, 125, 21);
  int widest = 0;
  for (int i = 0; i < clip.frames(); ++i)
    if (clip.mouth()[i].open > clip.mouth()[widest].open) widest = i;
  ASSERT_GT(clip.mouth()[widest].open, 0.5);
  cv::Mat frame, gray;
  clip.render(widest, frame);
  cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
  const auto& f = clip.landmarks().frames[widest];
  // Between the teeth (upper third of the gap) and the lower lip lies the dark mouth.
  const cv::Point2f inside = f[62] + (f[66] - f[62]) * 0.7f;
  const cv::Point2f cheek = (f[3] + f[31]) * 0.5f;
  EXPECT_LT(gray.at<uchar>(cv::Point(inside)) + 40, gray.at<uchar>(cv::Point(cheek)));
}

namespace {

// Frames and audio of a video as the rest of the pipeline reads them.
int64_t count_frames(const fs::path& video) {
  dinet::VideoReader reader(video);
  cv::Mat frame;
  while (reader.read(frame)) {
  }
  return reader.frames_read();
}

}  // namespace

TEST(SynthClips, PublishedLayoutReadableVideoWithAudioFollowingTheLips) {
  TempDir dir;
  dinet::SynthOptions o;
  o.out_dir = dir / "training_data/split_video_25fps";
  o.videos = 2;
  o.seconds = 2.4;
  o.width = o.height = 256;
  o.seed = 3;
  o.show_progress = false;
  const dinet::SynthResult result = dinet::synthesize_clips(o);
  ASSERT_EQ(result.written.size(), 2u);
  const fs::path video = o.out_dir / "synth_000.mp4";
  const fs::path csv = dir / "training_data/split_video_25fps_landmark_openface/synth_000.csv";
  EXPECT_EQ(result.written[0], video);
  ASSERT_TRUE(fs::exists(video));
  ASSERT_TRUE(fs::exists(csv));
  EXPECT_TRUE(temporaries_in(o.out_dir).empty());
  EXPECT_TRUE(temporaries_in(csv.parent_path()).empty());

  const dinet::LandmarkTrack track = dinet::read_openface_csv(csv, 60);
  for (const auto& f : track.frames)
    for (const auto& p : f) EXPECT_TRUE(p.x >= 0 && p.y >= 0 && p.x < 256 && p.y < 256);
  {
    dinet::VideoReader reader(video);
    EXPECT_TRUE(reader.info().has_audio);
    EXPECT_EQ(reader.info().width, 256);
    EXPECT_EQ(reader.info().height, 256);
    // The first frame is the face the generator drew (H.264 at CRF 18 keeps it close).
    cv::Mat decoded, drawn;
    ASSERT_TRUE(reader.read(decoded));
    SynthClip clip({256, 256}, 60, mix_seed(3, 0));
    clip.render(0, drawn);
    EXPECT_GT(cv::PSNR(decoded, drawn), 30);
    for (int k = 0; k < 68; ++k)  // the CSV keeps 3 decimals
      EXPECT_LT(cv::norm(clip.landmarks().frames[7][k] - track.frames[7][k]), 1e-3) << k;
  }
  EXPECT_EQ(count_frames(video), 60);
  const dinet::Audio audio = dinet::load_audio(video, 16000);
  EXPECT_NEAR(audio.duration_s(), 2.4, 0.05);
  const double r = pearson(inner_lip_gap(track.frames), frame_rms(audio, 60));
  std::printf("decoded: r(|62-66| from the CSV, rms of the AAC track) = %.3f\n", r);
  EXPECT_GT(r, 0.6);
}

TEST(SynthClips, SameSeedSameFilesAndReRunsSkipOrRefuse) {
  TempDir dir;
  dinet::SynthOptions o;
  o.out_dir = dir / "a";
  o.videos = 2;
  o.seconds = 0.6;
  o.width = o.height = 128;
  o.seed = 9;
  o.show_progress = false;
  o.threads = 2;
  dinet::synthesize_clips(o);
  dinet::SynthOptions other = o;
  other.out_dir = dir / "b/";  // a trailing slash still gives the sibling b_landmark_openface
  other.threads = 1;
  other.videos = 1;
  dinet::synthesize_clips(other);
  EXPECT_EQ(dinet::read_file(dir / "a_landmark_openface/synth_000.csv"),
            dinet::read_file(dir / "b_landmark_openface/synth_000.csv"));

  // Complete clips are skipped, a CSV left without its video is made again.
  fs::remove(o.out_dir / "synth_001.mp4");
  const auto csv_time = fs::last_write_time(dir / "a_landmark_openface/synth_000.csv");
  dinet::SynthResult again = dinet::synthesize_clips(o);
  EXPECT_EQ(again.skipped, std::vector<fs::path>{o.out_dir / "synth_000.mp4"});
  EXPECT_EQ(again.written, std::vector<fs::path>{o.out_dir / "synth_001.mp4"});
  EXPECT_EQ(fs::last_write_time(dir / "a_landmark_openface/synth_000.csv"), csv_time);

  // A video without its landmarks is not overwritten: the error names it.
  fs::remove(dir / "a_landmark_openface/synth_000.csv");
  try {
    dinet::synthesize_clips(o);
    ADD_FAILURE() << "expected an error";
  } catch (const dinet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("synth_000.mp4"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(o.out_dir / "synth_000.mp4"));
}

TEST(SynthClips, InterruptedRunLeavesNothingBehind) {
  TempDir dir;
  dinet::SynthOptions o;
  o.out_dir = dir / "v";
  o.seconds = 20;
  o.show_progress = false;
  std::atomic<bool> cancel{false};
  o.cancel = &cancel;
  std::thread stop([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  const dinet::SynthResult result = dinet::synthesize_clips(o);
  stop.join();
  EXPECT_TRUE(result.interrupted);
  EXPECT_TRUE(result.written.empty());
  EXPECT_TRUE(fs::is_empty(dir / "v"));
  EXPECT_TRUE(fs::is_empty(dir / "v_landmark_openface"));
}

TEST(SynthClips, BadOptionsSayWhich) {
  dinet::SynthOptions o;
  o.out_dir = "/tmp/unused";
  o.width = 100;
  o.height = 63;
  try {
    dinet::synthesize_clips(o);
    ADD_FAILURE();
  } catch (const dinet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--size 100x63"), std::string::npos) << e.what();
  }
  o.width = o.height = 64;
  o.seconds = 0;
  EXPECT_THROW(dinet::synthesize_clips(o), dinet::Error);
}

TEST(SynthCommand, WritesClipsAndRejectsABadSize) {
  if (!fs::exists(dinet::test::dinet_binary())) GTEST_SKIP() << "build the dinet executable first";
  TempDir dir;
  const std::string out = (dir / "clips").string();
  auto bad = dinet::test::run_dinet("synth --out '" + out + "' --size 512");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--size 512"), std::string::npos) << bad.output;
  auto ok = dinet::test::run_dinet("synth --out '" + out + "' --videos 1 --seconds 0.4 --size 96x96 --quiet");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(fs::exists(dir / "clips/synth_000.mp4"));
  EXPECT_TRUE(fs::exists(dir / "clips_landmark_openface/synth_000.csv"));
}

namespace {

// Log-mel per video frame (the 4 hops averaged: 80 values) with two frames of context on
// each side, edges repeated as at inference: (frames, 400), plus a bias column.
at::Tensor mel_context(const dinet::Audio& audio) {
  const at::Tensor mel = dinet::mel_features(audio);
  const int64_t n = mel.size(0);
  const at::Tensor per_frame = mel.view({n, dinet::kMelHopsPerFrame, dinet::kMelBands}).mean(1);
  std::vector<at::Tensor> columns;
  for (int d = -2; d <= 2; ++d) {
    const at::Tensor index = at::clamp(at::arange(n) + d, 0, n - 1);
    columns.push_back(per_frame.index_select(0, index));
  }
  columns.push_back(at::ones({n, 1}));
  return at::cat(columns, 1);
}

}  // namespace

// The brief of the data set: a network that hears the audio can tell how the mouth looks.
// Even a linear map from log-mel to the mouth, fitted on a few clips, predicts the mouth
// of unseen speakers and tells an in-sync 5-frame window from a shifted one.
TEST(SynthLearnability, LogMelPredictsTheMouthOfUnseenSpeakers) {
  auto clip = [](uint64_t seed, at::Tensor& x, at::Tensor& y) {
    Rng rng(seed);
    const Speech s = synthesize_speech(random_voice(rng), 250, 25, 16000, rng);
    x = mel_context(s.audio);
    y = at::empty({250, 2});
    for (int i = 0; i < 250; ++i) {
      y[i][0] = s.mouth[i].open;
      y[i][1] = s.mouth[i].spread;
    }
  };
  std::vector<at::Tensor> xs, ys;
  for (uint64_t seed = 100; seed < 108; ++seed) {
    at::Tensor x, y;
    clip(seed, x, y);
    xs.push_back(x);
    ys.push_back(y);
  }
  const at::Tensor x = at::cat(xs).to(at::kDouble), y = at::cat(ys).to(at::kDouble);
  const at::Tensor w = at::linalg_solve(x.t().mm(x) + 1.0 * at::eye(x.size(1), at::kDouble), x.t().mm(y));

  Rng pick(1);
  for (uint64_t seed : {200, 201, 202}) {
    at::Tensor tx, ty;
    clip(seed, tx, ty);
    const at::Tensor predicted = tx.to(at::kDouble).mm(w);
    std::vector<double> p_open, t_open, p_spread, t_spread;
    for (int i = 0; i < 250; ++i) {
      p_open.push_back(predicted[i][0].item<double>());
      t_open.push_back(ty[i][0].item<double>());
      p_spread.push_back(predicted[i][1].item<double>());
      t_spread.push_back(ty[i][1].item<double>());
    }
    const double r_open = pearson(p_open, t_open), r_spread = pearson(p_spread, t_spread);
    // SyncNet's question on 5-frame windows: is the mouth closer to the prediction from
    // its own audio than to the prediction from audio 5-20 frames away?
    int right = 0, total = 0;
    for (int t = 20; t + 25 < 250; ++t) {
      const int shift = (pick.chance(0.5) ? 1 : -1) * (5 + pick.below(16));
      double d_sync = 0, d_off = 0;
      for (int k = 0; k < 5; ++k) {
        d_sync += std::pow(p_open[t + k] - t_open[t + k], 2);
        d_off += std::pow(p_open[t + shift + k] - t_open[t + k], 2);
      }
      right += d_sync < d_off;
      ++total;
    }
    const double accuracy = double(right) / total;
    std::printf("speaker %d: r(open) %.3f, r(spread) %.3f, in-sync vs shifted window %.3f (chance 0.5)\n",
                int(seed), r_open, r_spread, accuracy);
    EXPECT_GT(r_open, 0.9);
    EXPECT_GT(r_spread, 0.75);
    EXPECT_GT(accuracy, 0.9);
  }
}

// The faces are plausible enough for a real landmark detector: dlib's face detector finds
// every frame and its 68-point model puts each group of points where the generator drew
// it. (A fresh detection per frame: this checks the faces, not a tracking policy.)
TEST(SynthClips, DlibFindsTheFaceAndAgreesWithTheLandmarks) {
  const fs::path model = dinet::default_landmark_model();
  if (!fs::exists(model)) GTEST_SKIP() << model << " is absent (Debian's libdlib-data)";
  TempDir dir;
  dinet::SynthOptions o;
  o.out_dir = dir / "v";
  o.videos = 3;
  o.seconds = 1.2;
  o.width = o.height = 320;
  o.seed = 5;
  o.show_progress = false;
  dinet::synthesize_clips(o);
  const dinet::LandmarkModel detector(model);
  for (int clip = 0; clip < o.videos; ++clip) {
    const std::string name = dinet::synth_clip_name(clip);
    const dinet::LandmarkTrack exact = dinet::read_openface_csv(dir / ("v_landmark_openface/" + name + ".csv"));
    dinet::VideoReader reader(dir / ("v/" + name + ".mp4"));
    const int groups[] = {0, 17, 27, 36, 48, 60, 68};  // jaw, brows, nose, eyes, outer, inner lips
    double error[6] = {0};
    int frames = 0;
    cv::Mat frame;
    for (int i = 0; reader.read(frame); ++i) {
      if (i % 3) continue;
      const auto found = dinet::FaceTracker(detector).track(frame);
      ASSERT_TRUE(found) << name << " frame " << i;
      const auto& e = exact.frames[i];
      const double width = cv::norm(e[16] - e[0]);
      for (int g = 0; g < 6; ++g)
        for (int p = groups[g]; p < groups[g + 1]; ++p)
          error[g] += cv::norm(e[p] - found->landmarks[p]) / width / (groups[g + 1] - groups[g]);
      ++frames;
    }
    ASSERT_EQ(frames, 10);
    for (int g = 0; g < 6; ++g) {
      std::printf("%s, points %d-%d: dlib is %.3f face widths away\n", name.c_str(), groups[g],
                  groups[g + 1] - 1, error[g] / frames);
      EXPECT_LT(error[g] / frames, 0.07) << name << ", points " << groups[g] << "-" << groups[g + 1] - 1;
    }
  }
}

