// Text to speech with libespeak-ng, for live sessions that are given text.
#include <espeak-ng/speak_lib.h>

#include <cstring>
#include <mutex>

#include "dinet/error.h"
#include "dinet/live.h"

namespace dinet {
namespace {

// espeak-ng keeps one global synthesiser: every use holds this.
std::mutex espeak_mutex;
int espeak_rate = 0;  // the sample rate espeak_Initialize reported; 0 before

int collect(short* samples, int count, espeak_EVENT* events) {
  auto* out = static_cast<std::vector<float>*>(events->user_data);
  if (samples && out)
    for (int i = 0; i < count; ++i) out->push_back(samples[i] / 32768.0f);
  return 0;  // go on
}

}  // namespace

Audio synthesize_speech(const std::string& text, const std::string& voice) {
  std::lock_guard lock(espeak_mutex);
  if (espeak_rate == 0) {
    const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0)
      throw Error("espeak-ng: could not be initialised (is its data installed? Debian: espeak-ng-data)");
    espeak_SetSynthCallback(collect);
    espeak_rate = rate;
  }
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK)
    throw Error("espeak-ng: unknown voice '" + voice + "' (or its data is missing)");
  Audio speech;
  speech.sample_rate = espeak_rate;
  const espeak_ERROR result = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                           espeakCHARS_UTF8, nullptr, &speech.samples);
  if (result != EE_OK) throw Error("espeak-ng: could not speak the text (error " + std::to_string(result) + ")");
  if (espeak_Synchronize() != EE_OK) throw Error("espeak-ng: synthesis did not finish");
  return resample(speech, 16000);
}

}  // namespace dinet
