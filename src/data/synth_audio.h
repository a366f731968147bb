// Speech-like audio for the synthetic data set, and the mouth movements it implies.
//
// Syllables of a consonant (fricative, /p/, /m/ or none) and a vowel (/a/ /e/ /i/ /o/ /u/)
// are synthesised as a glottal pulse train through formant resonators, with pauses between
// words and phrases. The same score drives the mouth, so a network that hears the audio
// can tell how the mouth looks: loud open vowels open it, /i/ spreads it, /u/ rounds it,
// /m/ /p/ and silence close it.
#pragma once

#include <vector>

#include "dinet/media.h"
#include "synth_random.h"

namespace dinet::synth {

// The mouth for one video frame, as the audio drives it.
struct MouthShape {
  float open = 0;    // 0 lips together .. 1 widest opening (loud /a/)
  float spread = 0;  // -1 rounded (/u/) .. 0 relaxed .. +1 spread (/i/)
};

struct Voice {
  double f0_hz = 120;          // mean pitch
  double formant_scale = 1.0;  // vocal-tract length: multiplies every formant
  double tempo = 1.0;          // > 1 speaks faster (shorter syllables)
  double breathiness = 0.05;   // aspiration noise relative to voicing
};
Voice random_voice(Rng& rng);

struct Speech {
  Audio audio;                    // mono, `frames` video frames long
  std::vector<MouthShape> mouth;  // one per video frame
};

// Frame i of the video shows the mouth averaged over the audio of that frame's interval
// [i/fps, (i+1)/fps): the same samples an audio feature for frame i is computed from. The
// articulation is smoothed forwards and backwards (about 20 ms), so the lips start to move
// slightly before the sound starts, as real lips do, but never by more than a frame.
Speech synthesize_speech(const Voice& voice, int frames, double fps, int sample_rate, Rng& rng);

}  // namespace dinet::synth
