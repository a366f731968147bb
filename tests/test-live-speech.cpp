// Text to speech through libespeak-ng.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "dinet/live.h"
#include "test_support.h"

namespace {

double rms(const dinet::Audio& audio) {
  double sum = 0;
  for (float v : audio.samples) sum += double(v) * v;
  return audio.samples.empty() ? 0 : std::sqrt(sum / audio.samples.size());
}

TEST(LiveSpeech, SpeaksTextAt16kHz) {
  const dinet::Audio speech = dinet::synthesize_speech("Hello, this is a test of live dubbing.");
  EXPECT_EQ(speech.sample_rate, 16000);
  // Eight words at espeak-ng's default 175 words a minute: about 2-3 s.
  EXPECT_GT(speech.duration_s(), 1.2);
  EXPECT_LT(speech.duration_s(), 6.0);
  EXPECT_GT(rms(speech), 0.02);
  // Longer text, longer speech.
  const dinet::Audio shorter = dinet::synthesize_speech("Hello.");
  EXPECT_LT(shorter.duration_s(), speech.duration_s() / 2);
}

TEST(LiveSpeech, CallsFromSeveralThreadsTakeTurns) {
  dinet::Audio a, b;
  std::thread other([&] { a = dinet::synthesize_speech("one two three"); });
  b = dinet::synthesize_speech("one two three");
  other.join();
  // The same speech, not a mix of the two (that would be about twice as long): espeak-ng keeps
  // a little state between utterances, so the first one of a process is 1-2 % longer or shorter.
  EXPECT_NEAR(double(a.samples.size()), double(b.samples.size()), 0.05 * b.samples.size());
  EXPECT_NEAR(rms(a), rms(b), 0.05 * rms(b));
}

TEST(LiveSpeech, UnknownVoiceIsAnError) {
  EXPECT_NE(dinet::test::error_of([] { dinet::synthesize_speech("hello", "no-such-voice-xx"); }).find("no-such-voice-xx"),
            std::string::npos);
}

}  // namespace
