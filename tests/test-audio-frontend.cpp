// The DeepSpeech front end against python_speech_features / deep_speech.py ground truth
// (../shared/fixtures/deepspeech_frontend), and the frame count every feature shares.
#include <ATen/ATen.h>

#include "dinet/audio_features.h"
#include "dinet/media.h"
#include "dinet/npy.h"
#include "test_support.h"

namespace {

std::filesystem::path fixture(const std::string& name) {
  return dinet::test::shared_dir() / "fixtures" / "deepspeech_frontend" / name;
}

// Channel 0 of the 16 kHz stereo fixture wav, as the published code reads it.
std::vector<int16_t> fixture_pcm() {
  const auto wav = dinet::test::shared_dir() / "data" / "real" / "sadtalker_RD_Radio31_000.wav";
  return dinet::deepspeech_pcm(dinet::load_audio(wav, 16000, dinet::AudioChannels::first));
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST(FeatureFrameCount, FollowsTheDeepSpeechCount) {
  EXPECT_EQ(dinet::feature_frame_count(160000), 250);  // 10 s
  EXPECT_EQ(dinet::feature_frame_count(128000), 200);  // 8 s
  EXPECT_EQ(dinet::feature_frame_count(960000), 1500);  // 60 s
  EXPECT_EQ(dinet::feature_frame_count(0), 1);
  EXPECT_EQ(dinet::feature_frame_count(400), 1);
  // N_mfcc 100 -> 50 steps -> 25 rows; N_mfcc 101 -> 51 -> 26.
  EXPECT_EQ(dinet::feature_frame_count(16123), 25);
  EXPECT_EQ(dinet::feature_frame_count(400 + 160 * 100), 26);
}

TEST(DeepSpeechFrontEnd, Int16ByTruncation) {
  dinet::Audio audio;
  audio.samples = {0.5f, -0.5f, 1.0f, -1.0f, 100.5f / 32768, -100.5f / 32768};
  const auto pcm = dinet::deepspeech_pcm(audio);
  EXPECT_EQ(pcm, (std::vector<int16_t>{16384, -16384, 32767, -32768, 100, -100}));
}

TEST(DeepSpeechFrontEnd, MfccMatchesPythonSpeechFeatures) {
  DINET_REQUIRE_SHARED();
  const auto pcm = fixture_pcm();
  ASSERT_EQ(pcm.size(), 128000u);
  const at::Tensor mfcc = dinet::deepspeech_mfcc(pcm);
  const at::Tensor expected = dinet::read_npy(fixture("mfcc.npy"));
  ASSERT_EQ(mfcc.sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(mfcc, expected), 1e-3);
}

TEST(DeepSpeechFrontEnd, InputVectorsMatchDeepSpeechPy) {
  DINET_REQUIRE_SHARED();
  const at::Tensor inputs = dinet::deepspeech_input_vectors(dinet::deepspeech_mfcc(fixture_pcm()));
  const at::Tensor expected = dinet::read_npy(fixture("input_vectors.npy"));
  ASSERT_EQ(inputs.sizes(), expected.sizes());
  EXPECT_EQ(inputs.scalar_type(), at::kFloat);
  EXPECT_LT(max_abs_diff(inputs, expected), 1e-4);
}

TEST(DeepSpeechFrontEnd, PartialLastFrameMatches) {
  DINET_REQUIRE_SHARED();
  auto pcm = fixture_pcm();
  pcm.resize(16123);  // not a whole number of hops: the last frame is zero-padded
  const at::Tensor mfcc = dinet::deepspeech_mfcc(pcm);
  const at::Tensor expected_mfcc = dinet::read_npy(fixture("short_mfcc.npy"));
  ASSERT_EQ(mfcc.sizes(), expected_mfcc.sizes());
  EXPECT_LT(max_abs_diff(mfcc, expected_mfcc), 1e-3);
  const at::Tensor inputs = dinet::deepspeech_input_vectors(mfcc);
  const at::Tensor expected = dinet::read_npy(fixture("short_input_vectors.npy"));
  ASSERT_EQ(inputs.sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(inputs, expected), 1e-4);
}

TEST(DeepSpeechFrontEnd, ShortSignalsGiveOneFrame) {
  for (size_t n : {0u, 1u, 399u, 400u}) {
    const at::Tensor mfcc = dinet::deepspeech_mfcc(std::vector<int16_t>(n, 1000));
    EXPECT_EQ(mfcc.size(0), 1) << n;
    const at::Tensor inputs = dinet::deepspeech_input_vectors(mfcc);
    EXPECT_EQ(inputs.size(0), 1);
    EXPECT_TRUE(inputs.isfinite().all().item<bool>());
  }
}
