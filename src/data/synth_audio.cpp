#include "synth_audio.h"

#include <algorithm>
#include <cmath>

namespace dinet::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Speech level: the voiced carrier is normalised to RMS 1, then scaled by this and the
// designed envelope, so loudness is what the score says and not an accident of the
// formant filters (which would make /i/ louder than /a/, the opposite of real speech).
constexpr double kLevel = 0.1;

struct VowelSpec {
  double f1, f2, f3;  // Hz, adult male averages; a voice's formant_scale stretches them
  double open, spread, intensity;
};
// Open vowels are intrinsically louder and open the mouth more: both follow from F1.
constexpr VowelSpec kVowels[] = {
    {730, 1090, 2440, 1.00, 0.10, 1.00},   // a
    {530, 1840, 2480, 0.60, 0.55, 0.90},   // e
    {290, 2250, 2950, 0.28, 1.00, 0.78},   // i
    {500, 850, 2400, 0.70, -0.60, 0.92},   // o
    {320, 800, 2250, 0.32, -1.00, 0.78},   // u
};
constexpr VowelSpec kNasal = {250, 1100, 2300, 0.0, 0.0, 0.30};  // /m/: a murmur, lips shut
constexpr VowelSpec kNeutral = {500, 1500, 2500, 0.0, 0.0, 0.0};

double formant_hz(const VowelSpec& v, int k) { return k == 0 ? v.f1 : k == 1 ? v.f2 : v.f3; }

struct FricativeSpec {
  double center_hz, bandwidth_hz, level, open, spread;
};
constexpr FricativeSpec kFricatives[] = {
    {5000, 2500, 0.30, 0.08, 0.50},   // s: teeth together, lips spread
    {2900, 1600, 0.30, 0.15, -0.70},  // sh: lips rounded
    {5500, 5000, 0.12, 0.04, 0.10},   // f: lower lip against the upper teeth
};

enum class Sound { vowel, nasal, closure, burst, fricative };

struct Segment {
  Sound sound;
  double start, length;  // seconds; time no segment covers is silence
  int kind;              // index into kVowels or kFricatives
  double loudness;       // stress, 0.6 .. 1
  double pitch;          // F0 multiplier: phrase declination and accent
};

// 0 -> 1 -> 0 with raised-cosine ramps; `t` in seconds from the segment start.
double envelope(double t, double length, double attack, double release) {
  const double scale = std::min(1.0, length / (attack + release));
  attack *= scale;
  release *= scale;
  if (t < 0 || t > length) return 0.0;
  if (t < attack) return 0.5 - 0.5 * std::cos(kPi * t / attack);
  if (t > length - release) return 0.5 - 0.5 * std::cos(kPi * (length - t) / release);
  return 1.0;
}

// Phrases of 2-9 syllables, each an optional onset consonant, a vowel and an optional coda.
std::vector<Segment> compose(const Voice& voice, double total, Rng& rng) {
  std::vector<Segment> score;
  double t = rng.uniform(0.15, 0.5);
  double pitch = 1.0;
  double loudness = 1.0;
  auto add = [&](Sound sound, double length, int kind) {
    score.push_back({sound, t, length, kind, loudness, pitch});
    t += length;
  };
  const double tempo = voice.tempo;
  while (t < total) {
    const int syllables = 2 + rng.below(8);
    for (int s = 0; s < syllables && t < total; ++s) {
      loudness = rng.uniform(0.6, 1.0);
      // Declination over the phrase, plus an occasional accent.
      pitch = 1.12 - 0.22 * s / std::max(1, syllables - 1) +
              (rng.chance(0.3) ? rng.uniform(0.05, 0.15) : 0.0);
      const double onset = rng.uniform();
      if (onset < 0.15) {
        add(Sound::closure, rng.uniform(0.05, 0.09) / tempo, 0);
        add(Sound::burst, 0.012, 0);
      } else if (onset < 0.30) {
        add(Sound::nasal, rng.uniform(0.06, 0.11) / tempo, 0);
      } else if (onset < 0.55) {
        add(Sound::fricative, rng.uniform(0.07, 0.14) / tempo, rng.below(3));
      }
      add(Sound::vowel, rng.uniform(0.12, 0.30) / tempo, rng.below(5));
      const double coda = rng.uniform();
      if (coda < 0.10)
        add(Sound::nasal, rng.uniform(0.06, 0.09) / tempo, 0);
      else if (coda < 0.20)
        add(Sound::fricative, rng.uniform(0.08, 0.12) / tempo, 0);
      if (rng.chance(0.25)) t += rng.uniform(0.04, 0.12);  // a gap between words
    }
    t += rng.uniform(0.25, 0.7);  // a breath between phrases
  }
  return score;
}

// Klatt's two-pole resonator with unity gain at 0 Hz, so a cascade of them gives the
// relative formant amplitudes of a real vocal tract without per-formant gains.
struct Resonator {
  double y1 = 0, y2 = 0;
  double step(double x, double freq, double bandwidth, double fs) {
    const double r = std::exp(-kPi * bandwidth / fs);
    const double c = -r * r;
    const double b = 2 * r * std::cos(2 * kPi * std::min(freq, 0.45 * fs) / fs);
    const double y = (1 - b - c) * x + b * y1 + c * y2;
    y2 = y1;
    y1 = y;
    return y;
  }
};

// Rosenberg's glottal flow pulse over one period, x in [0, 1).
double glottal_flow(double x) {
  constexpr double opening = 0.4, closing = 0.16;
  if (x < opening) return 0.5 - 0.5 * std::cos(kPi * x / opening);
  if (x < opening + closing) return std::cos(0.5 * kPi * (x - opening) / closing);
  return 0.0;
}

// Glottal pulses (with jitter, shimmer and aspiration) through the formant cascade, run
// through the whole utterance and normalised to RMS 1 over 20 ms windows.
std::vector<float> voiced_carrier(const Voice& voice, const std::vector<float>& f0,
                                  const std::vector<float> (&formant)[3],
                                  const std::vector<float>& nasal, int fs, Rng& rng) {
  const size_t n = f0.size();
  std::vector<float> out(n);
  Resonator cascade[5];
  double pos = 0, period = fs / f0[0], shimmer = 1, previous = 0;
  const double scale = voice.formant_scale;
  for (size_t i = 0; i < n; ++i) {
    if (pos >= period) {
      pos -= period;
      period = fs / (f0[i] * (1 + 0.01 * rng.normal()));
      shimmer = 1 + 0.04 * rng.normal();
    }
    const double flow = glottal_flow(pos / period);
    pos += 1;
    // The flow's derivative: the lips radiate the derivative of the volume velocity.
    double x = (flow - previous) * period * shimmer + voice.breathiness * flow * rng.normal();
    previous = flow;
    const double widen = nasal[i] * 60.0;  // nasal formants are broader
    x = cascade[0].step(x, formant[0][i], 70 + widen, fs);
    x = cascade[1].step(x, formant[1][i], 90 + widen, fs);
    x = cascade[2].step(x, formant[2][i], 130, fs);
    x = cascade[3].step(x, 3300 * scale, 200, fs);
    out[i] = static_cast<float>(cascade[4].step(x, 4500 * scale, 300, fs));
  }
  std::vector<double> energy(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) energy[i + 1] = energy[i] + double(out[i]) * out[i];
  const size_t half = static_cast<size_t>(0.010 * fs);
  std::vector<float> normalised(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t a = i > half ? i - half : 0, b = std::min(n, i + half);
    const double rms = std::sqrt((energy[b] - energy[a]) / double(b - a));
    normalised[i] = static_cast<float>(out[i] / std::max(rms, 1e-9));
  }
  return normalised;
}

// White noise shaped by one resonator (after a first difference, so it is high-passed),
// normalised to RMS 1 over its length, then shaped by the segment's envelope.
void add_noise(std::vector<float>& out, size_t begin, size_t end, double center, double bandwidth,
               double level, const std::vector<double>& shape, int fs, Rng& rng) {
  std::vector<double> noise(end - begin);
  Resonator filter;
  double previous = 0, energy = 0;
  for (auto& v : noise) {
    const double white = rng.normal();
    v = filter.step(white - previous, center, bandwidth, fs);
    previous = white;
    energy += v * v;
  }
  const double gain = level / std::sqrt(std::max(energy / std::max<size_t>(1, noise.size()), 1e-12));
  for (size_t i = 0; i < noise.size(); ++i) out[begin + i] += float(noise[i] * gain * shape[i]);
}

// Zero-phase one-pole smoothing: the mouth cannot jump, and it moves ahead of the sound
// as much as it trails it.
void smooth(std::vector<float>& v, double tau_steps) {
  const float a = static_cast<float>(std::exp(-1.0 / tau_steps));
  for (size_t i = 1; i < v.size(); ++i) v[i] = a * v[i - 1] + (1 - a) * v[i];
  for (size_t i = v.size(); i-- > 1;) v[i - 1] = a * v[i] + (1 - a) * v[i - 1];
}

}  // namespace

Voice random_voice(Rng& rng) {
  Voice v;
  v.f0_hz = rng.uniform(100, 220);
  // Higher voices come with shorter vocal tracts, hence higher formants.
  v.formant_scale = 0.92 + 0.18 * (v.f0_hz - 100) / 120 + 0.02 * rng.normal();
  v.tempo = rng.uniform(0.85, 1.2);
  v.breathiness = rng.uniform(0.02, 0.1);
  return v;
}

Speech synthesize_speech(const Voice& voice, int frames, double fps, int sample_rate, Rng& rng) {
  const int fs = sample_rate;
  const size_t n = static_cast<size_t>(std::llround(frames * fs / fps));
  const double total = double(n) / fs;
  const std::vector<Segment> score = compose(voice, total, rng);
  auto sample = [&](double seconds) { return std::min(n, size_t(std::llround(seconds * fs))); };

  // Per-sample targets: pitch, formants (held through gaps), voicing amplitude.
  std::vector<float> f0(n, float(voice.f0_hz)), nasal(n, 0.0f), amplitude(n, 0.0f);
  std::vector<float> formant[3];
  for (auto& f : formant) f.assign(n, 0.0f);
  VowelSpec held = kNeutral;
  size_t filled = 0;
  for (const Segment& seg : score) {
    const size_t a = sample(seg.start), b = sample(seg.start + seg.length);
    const bool voiced = seg.sound == Sound::vowel || seg.sound == Sound::nasal;
    const VowelSpec& spec = seg.sound == Sound::vowel ? kVowels[seg.kind] : kNasal;
    for (; filled < a; ++filled)
      for (int k = 0; k < 3; ++k) formant[k][filled] = float(formant_hz(held, k) * voice.formant_scale);
    if (!voiced) continue;
    held = spec;
    const double attack = seg.sound == Sound::vowel ? 0.035 : 0.015;
    const double release = seg.sound == Sound::vowel ? 0.07 : 0.015;
    for (size_t i = a; i < b; ++i) {
      const double t = double(i) / fs - seg.start;
      f0[i] = float(voice.f0_hz * seg.pitch * (1 + 0.02 * std::sin(2 * kPi * 5.0 * t)));
      amplitude[i] = float(spec.intensity * seg.loudness * envelope(t, seg.length, attack, release));
      nasal[i] = seg.sound == Sound::nasal ? 1.0f : 0.0f;
    }
  }
  for (; filled < n; ++filled)
    for (int k = 0; k < 3; ++k) formant[k][filled] = float(formant_hz(held, k) * voice.formant_scale);
  // Formants and pitch glide between sounds rather than jump (coarticulation).
  smooth(f0, 0.03 * fs);
  for (auto& f : formant) smooth(f, 0.012 * fs);

  Speech speech;
  speech.audio.sample_rate = fs;
  std::vector<float>& out = speech.audio.samples;
  out = voiced_carrier(voice, f0, formant, nasal, fs, rng);
  for (size_t i = 0; i < n; ++i) out[i] *= float(kLevel * amplitude[i]);

  // Noise sounds, and the mouth targets of every sound at 1 ms steps.
  const size_t steps = static_cast<size_t>(std::ceil(total * 1000));
  std::vector<float> open(steps, 0.0f), spread(steps, 0.0f);
  for (const Segment& seg : score) {
    const size_t a = sample(seg.start), b = sample(seg.start + seg.length);
    std::vector<double> shape(b - a);
    if (seg.sound == Sound::fricative) {
      for (size_t i = a; i < b; ++i) shape[i - a] = envelope(double(i) / fs - seg.start, seg.length, 0.02, 0.02);
      const FricativeSpec& f = kFricatives[seg.kind];
      add_noise(out, a, b, f.center_hz, f.bandwidth_hz, kLevel * f.level * seg.loudness, shape, fs, rng);
    } else if (seg.sound == Sound::burst) {
      for (size_t i = a; i < b; ++i) shape[i - a] = std::exp(-(double(i) / fs - seg.start) / 0.004);
      add_noise(out, a, b, 3000, 6000, kLevel * 0.35 * seg.loudness, shape, fs, rng);
    }
    const size_t ma = std::min(steps, size_t(seg.start * 1000)),
                 mb = std::min(steps, size_t((seg.start + seg.length) * 1000));
    for (size_t m = ma; m < mb; ++m) {
      const double t = m / 1000.0 - seg.start;
      switch (seg.sound) {
        case Sound::vowel: {
          const VowelSpec& v = kVowels[seg.kind];
          open[m] = float(v.open * (0.65 + 0.35 * seg.loudness) * envelope(t, seg.length, 0.035, 0.07));
          spread[m] = float(v.spread);
          break;
        }
        case Sound::fricative:
          open[m] = float(kFricatives[seg.kind].open);
          spread[m] = float(kFricatives[seg.kind].spread);
          break;
        case Sound::burst:  // the lips part with the release of /p/
          open[m] = 0.1f;
          break;
        case Sound::nasal:
        case Sound::closure:  // lips pressed together
          break;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) out[i] += float(0.0005 * rng.normal());  // room noise floor
  float peak = 0;
  for (float v : out) peak = std::max(peak, std::abs(v));
  if (peak > 0.9f)
    for (float& v : out) v *= 0.9f / peak;

  smooth(open, 20.0);
  smooth(spread, 35.0);
  speech.mouth.resize(frames);
  for (int i = 0; i < frames; ++i) {
    const size_t a = std::min(steps, size_t(std::llround(i * 1000 / fps)));
    const size_t b = std::min(steps, std::max(a + 1, size_t(std::llround((i + 1) * 1000 / fps))));
    double o = 0, s = 0;
    for (size_t m = a; m < b; ++m) o += open[m], s += spread[m];
    const double count = double(std::max<size_t>(1, b - a));
    speech.mouth[i] = {std::clamp(float(o / count), 0.0f, 1.0f), std::clamp(float(s / count), -1.0f, 1.0f)};
  }
  return speech;
}

}  // namespace dinet::synth
