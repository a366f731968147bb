// The mel feature computed as samples arrive (audio/mel_stream.h) against the batch feature.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <random>

#include "audio/mel_stream.h"
#include "dinet/audio_features.h"
#include "dinet/media.h"
#include "test_support.h"

namespace {

using dinet::audio::MelStream;

// Pushes `audio` in pieces of random size and collects every row.
at::Tensor stream_rows(const std::vector<float>& samples, MelStream& stream, std::vector<int64_t>* pushed_at_row = nullptr) {
  std::mt19937 random(7);
  std::uniform_int_distribution<size_t> piece(1, 900);
  std::vector<at::Tensor> rows;
  for (size_t at = 0; at < samples.size();) {
    const size_t n = std::min(piece(random), samples.size() - at);
    stream.push(std::span<const float>(samples.data() + at, n));
    at += n;
    const at::Tensor popped = stream.pop();
    if (pushed_at_row)
      for (int64_t r = 0; r < popped.size(0); ++r) pushed_at_row->push_back(static_cast<int64_t>(at));
    if (popped.size(0)) rows.push_back(popped);
  }
  return torch::cat(rows);
}

TEST(LiveMel, RowsAppearExactlyWhenTheirSamplesHaveArrived) {
  std::vector<float> samples(16000);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = 0.2f * std::sin(0.05f * i);
  MelStream stream;
  int64_t rows = 0;
  for (size_t n = 1; n <= samples.size(); ++n) {
    stream.push(std::span<const float>(&samples[n - 1], 1));
    rows += stream.pop().size(0);
    // Row t is complete with samples up to 640 t + 760.
    const int64_t expected = n >= 760 ? (static_cast<int64_t>(n) - 760) / 640 + 1 : 0;
    ASSERT_EQ(rows, expected) << "after " << n << " samples";
  }
}

TEST(LiveMel, StreamedRowsFollowTheBatchFeatureOnARealUtterance) {
  const auto dir = dinet::test::shared_dir() / "data" / "real";
  if (dinet::test::shared_dir().empty()) GTEST_SKIP() << "../shared is absent";
  for (const char* name : {"genefacepp_MacronSpeech.wav", "sadtalker_RD_Radio31_000.wav"}) {
    const dinet::Audio audio = dinet::load_audio(dir / name, 16000);
    const at::Tensor batch = dinet::mel_features(audio);
    MelStream stream;
    const at::Tensor streamed = stream_rows(audio.samples, stream);
    ASSERT_EQ(streamed.size(1), batch.size(1));
    // The batch count rounds up the last partial frame; the stream gives complete rows only.
    ASSERT_GE(streamed.size(0), batch.size(0) - 2);
    const int64_t n = std::min(streamed.size(0), batch.size(0));
    const int64_t warm = 50;  // 2 s
    const at::Tensor diff = (streamed.narrow(0, warm, n - warm) - batch.narrow(0, warm, n - warm)).abs();
    const double mean = diff.mean().item<double>(), p99 = std::get<0>(diff.flatten().kthvalue(int64_t(diff.numel() * 0.99))).item<double>();
    const double corr = torch::corrcoef(torch::stack({streamed.narrow(0, warm, n - warm).flatten(),
                                                      batch.narrow(0, warm, n - warm).flatten()}))[0][1].item<double>();
    const at::Tensor first = (streamed.narrow(0, 0, warm) - batch.narrow(0, 0, warm)).abs();
    std::printf("%s: %lld rows (%.1f s); after 2 s: mean |stream - batch| %.3f, p99 %.3f, correlation %.4f; "
                "first 2 s: mean %.3f (the batch feature has unit std)\n",
                name, static_cast<long long>(n), n / 25.0, mean, p99, corr, first.mean().item<double>());
    EXPECT_LT(mean, 0.15) << name;
    EXPECT_GT(corr, 0.98) << name;
  }
}

TEST(LiveMel, DigitalSilenceIsTheFloorAndLeavesTheStatisticsAlone) {
  const auto dir = dinet::test::shared_dir() / "data" / "real";
  if (dinet::test::shared_dir().empty()) GTEST_SKIP() << "../shared is absent";
  const dinet::Audio audio = dinet::load_audio(dir / "sadtalker_RD_Radio31_000.wav", 16000);
  MelStream stream;
  stream.push(std::span<const float>(audio.samples));
  // Past the last window that reaches into the speech.
  const std::vector<float> zeros(8000, 0.0f);
  stream.push(std::span<const float>(zeros));
  stream.pop();
  const at::Tensor silence_before = stream.silence_row();
  for (int k = 0; k < 10; ++k) stream.push(std::span<const float>(zeros));
  const at::Tensor rows = stream.pop();
  ASSERT_EQ(rows.size(0), 125);
  EXPECT_TRUE(torch::equal(rows, silence_before.unsqueeze(0).expand_as(rows)));
  EXPECT_TRUE(torch::equal(stream.silence_row(), silence_before));
  EXPECT_LT(silence_before[0].item<float>(), -1.5f);  // well under the speech's mean
}

}  // namespace

