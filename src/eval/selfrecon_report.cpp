// The self-reconstruction report: selfrecon.json for scripts, selfrecon.html for people.
#include <nlohmann/json.hpp>

#include <sstream>

#include "dinet/files.h"
#include "dinet/selfrecon.h"
#include "eval/html.h"

namespace dinet {
namespace fs = std::filesystem;
using eval::fixed;
using eval::html_escape;
using eval::number;
namespace {

nlohmann::json to_json(const SelfReconVariant& v) {
  return {{"name", v.name},
          {"video", v.video.filename().string()},
          {"frames", v.frames},
          {"mouth_l1", number(v.mouth_l1)},
          {"mouth_psnr", number(v.mouth_psnr)},
          {"mouth_ssim", number(v.mouth_ssim)},
          {"lmd_iod", number(v.lmd_iod)},
          {"seam_ratio", number(v.seam_ratio)},
          {"colour_shift_lab", number(v.colour_shift_lab)},
          {"sharpness_ratio", number(v.sharpness_ratio)},
          {"silent_frames", v.silent_frames},
          {"silent_gap_iod", number(v.silent_gap_iod)},
          {"closed_in_silence", number(v.closed_in_silence)}};
}

std::string html_page(const SelfRecon& r) {
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>dinet self-reconstruction</title><style>"
       "body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
       "img{display:block;margin:4px 0;max-width:100%}.axis{font-size:10px;fill:#666}</style></head><body>"
    << "<h1>Self-reconstruction</h1><p>Model <code>" << html_escape(r.model_path.string())
    << "</code> on the held-out part <code>" << html_escape(r.holdout_video.string()) << "</code> ("
    << r.holdout_frames << " frames, never trained on), against the real frames. Lower is better for "
       "L1, LMD, colour shift; 1 is best for the seam and sharpness ratios.</p>";
  h << "<p>LMD with its own audio over LMD with another clip's audio: <b>" << fixed(r.lmd_ratio_other_audio(), 2)
    << "</b>; over the baseline's: <b>" << fixed(r.lmd_ratio_baseline(), 2)
    << "</b> (under 1: the mouth follows its audio better than the baseline does).</p>";
  if (!r.note.empty()) h << "<p>" << html_escape(r.note) << "</p>";
  h << "<table><tr><th>variant</th><th>frames</th><th>mouth L1</th><th>mouth PSNR</th><th>mouth SSIM</th>"
       "<th>LMD / IOD</th><th>seam ratio</th><th>colour shift (Lab)</th><th>sharpness ratio</th>"
       "<th>silent frames</th><th>lip gap in silence / IOD</th><th>closed in silence</th></tr>";
  h << "<tr><td>real frames</td><td>" << r.holdout_frames << "</td><td></td><td></td><td></td><td></td><td></td>"
    << "<td></td><td></td><td>" << r.silent_frames << "</td><td>" << fixed(r.real_silent_gap_iod, 4) << "</td><td>"
    << fixed(r.real_closed_in_silence, 2) << "</td></tr>";
  for (const auto& v : r.variants)
    h << "<tr><td>" << html_escape(v.name) << "</td><td>" << v.frames << "</td><td>" << fixed(v.mouth_l1, 4)
      << "</td><td>" << fixed(v.mouth_psnr, 2) << "</td><td>" << fixed(v.mouth_ssim, 3) << "</td><td>"
      << fixed(v.lmd_iod, 4) << "</td><td>" << fixed(v.seam_ratio, 2) << "</td><td>" << fixed(v.colour_shift_lab, 2)
      << "</td><td>" << fixed(v.sharpness_ratio, 2) << "</td><td>" << v.silent_frames << "</td><td>"
      << fixed(v.silent_gap_iod, 4) << "</td><td>" << fixed(v.closed_in_silence, 2) << "</td></tr>";
  h << "</table>";
  for (const auto& v : r.variants)
    h << eval::svg_curve("LMD / IOD per frame: " + v.name, v.lmd_iod_by_frame);
  h << "<h2>Frames</h2><p>Face crops, left to right: real";
  for (const auto& v : r.variants) h << " | " << html_escape(v.name);
  h << ".</p>";
  for (const cv::Mat& still : r.stills) h << "<img src='" << eval::jpeg_data_url(still) << "'>";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

void write_selfrecon_report(const fs::path& dir, const SelfRecon& r) {
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& v : r.variants) variants.push_back(to_json(v));
  const nlohmann::json j = {{"model", r.model_path.string()},
                            {"holdout_video", r.holdout_video.string()},
                            {"holdout_frames", r.holdout_frames},
                            {"silent_frames", r.silent_frames},
                            {"real_silent_gap_iod", number(r.real_silent_gap_iod)},
                            {"real_closed_in_silence", number(r.real_closed_in_silence)},
                            {"lmd_ratio_other_audio", number(r.lmd_ratio_other_audio())},
                            {"lmd_ratio_baseline", number(r.lmd_ratio_baseline())},
                            {"variants", variants},
                            {"note", r.note},
                            {"seconds", r.seconds}};
  fs::create_directories(dir);
  write_file_atomic(dir / "selfrecon.json", j.dump(2) + "\n");
  write_file_atomic(dir / "selfrecon.html", html_page(r));
}

}  // namespace dinet
