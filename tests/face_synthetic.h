// A synthetic 68-point face for the face tests: a plausible iBUG layout whose crop radius
// and crop window are known, without needing a video.
#pragma once

#include <cmath>
#include <numbers>

#include "dinet/landmarks.h"

namespace dinet::test {

// A frontal face centred at (cx, cy) whose jaw is `size` pixels wide; `mouth_open` in
// [0, 1] lowers the lower lip and the chin, as speech does.
inline FaceLandmarks synthetic_face(float cx, float cy, float size, float mouth_open = 0) {
  FaceLandmarks p{};
  const float s = size, open = mouth_open * 0.12f * s;
  for (int k = 0; k <= 16; ++k) {  // jaw, left ear to right ear through the chin
    const double a = std::numbers::pi * k / 16;
    p[k] = {cx - 0.5f * s * float(std::cos(a)),
            cy - 0.05f * s + 0.6f * s * float(std::sin(a)) + (k >= 4 && k <= 12 ? open : 0.f)};
  }
  for (int k = 0; k < 5; ++k) {  // brows
    p[17 + k] = {cx - 0.4f * s + 0.07f * s * k, cy - 0.45f * s};
    p[22 + k] = {cx + 0.12f * s + 0.07f * s * k, cy - 0.45f * s};
  }
  for (int k = 0; k < 4; ++k) p[27 + k] = {cx, cy - 0.35f * s + 0.1f * s * k};  // nose ridge
  for (int k = 0; k < 5; ++k) p[31 + k] = {cx - 0.1f * s + 0.05f * s * k, cy + 0.08f * s};
  for (int e = 0; e < 2; ++e) {  // eyes: 36-41 and 42-47
    const float ex = cx + (e ? 0.2f : -0.2f) * s, ey = cy - 0.3f * s;
    for (int k = 0; k < 6; ++k) {
      const double a = std::numbers::pi * k / 3;
      p[36 + 6 * e + k] = {ex - 0.08f * s * float(std::cos(a)), ey - 0.03f * s * float(std::sin(a))};
    }
  }
  const float my = cy + 0.25f * s;
  for (int k = 0; k < 12; ++k) {  // outer lip 48-59, corners at 48 and 54
    const double a = std::numbers::pi * k / 6;
    const float lower = std::sin(a) < 0 ? open : 0.f;
    p[48 + k] = {cx - 0.2f * s * float(std::cos(a)), my - 0.06f * s * float(std::sin(a)) + lower};
  }
  for (int k = 0; k < 8; ++k) {  // inner lip 60-67
    const double a = std::numbers::pi * k / 4;
    const float lower = std::sin(a) < 0 ? open : 0.f;
    p[60 + k] = {cx - 0.15f * s * float(std::cos(a)), my - 0.02f * s * float(std::sin(a)) + lower};
  }
  return p;
}

}  // namespace dinet::test
