// The evaluation report: metrics.json and metrics.csv for scripts, report.html for people
// (one self-contained page: tables, per-frame curves as inline SVG, stills as data URLs).
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "dinet/evaluate.h"
#include "dinet/files.h"
#include "eval/html.h"

namespace dinet {
namespace fs = std::filesystem;
using eval::fixed;
using eval::html_escape;
using eval::jpeg_data_url;
using eval::number;
using eval::svg_curve;
namespace {

nlohmann::json to_json(const VideoEvaluation& v) {
  nlohmann::json j = {{"name", v.name}, {"result", v.result.string()}, {"source", v.source.string()}};
  if (!v.error.empty()) {
    j["error"] = v.error;
    return j;
  }
  j["frames"] = v.frames;
  j["psnr_face"] = number(v.psnr_face);
  j["ssim_face"] = number(v.ssim_face);
  j["psnr_mouth"] = number(v.psnr_mouth);
  j["ssim_mouth"] = number(v.ssim_mouth);
  j["lmd"] = number(v.lmd);
  j["lmd_iod"] = number(v.lmd_iod);
  j["seam_ratio"] = number(v.seam_ratio);
  j["colour_shift_lab"] = number(v.colour_shift_lab);
  j["mouth_sharpness_ratio"] = number(v.mouth_sharpness_ratio);
  j["lpips_face"] = number(v.lpips_face);
  j["lpips_mouth"] = number(v.lpips_mouth);
  j["fid"] = number(v.fid);
  if (v.sync) {
    j["sync_offset"] = v.sync->offset;
    j["sync_confidence"] = number(v.sync->confidence);
    j["sync_score"] = number(v.sync->score);
    nlohmann::json by_offset = nlohmann::json::array();
    for (double s : v.sync->score_by_offset) by_offset.push_back(number(s));
    j["sync_score_by_offset"] = by_offset;
  }
  // LSE-C/LSE-D: null when not computed (no --lse_model, or the video's note says why).
  j["lse_c"] = v.lse ? number(v.lse->confidence) : nlohmann::json();
  j["lse_d"] = v.lse ? number(v.lse->distance) : nlohmann::json();
  j["lse_offset"] = v.lse ? nlohmann::json(v.lse->offset) : nlohmann::json();
  if (!v.note.empty()) j["note"] = v.note;
  return j;
}

const char* kColumns[] = {"name",        "frames",     "psnr_face",  "ssim_face",        "psnr_mouth",
                          "ssim_mouth",  "lmd",        "lmd_iod",    "seam_ratio",       "colour_shift_lab",
                          "mouth_sharpness_ratio",     "lpips_face", "lpips_mouth",      "fid",
                          "sync_offset", "sync_confidence", "sync_score", "lse_c",          "lse_d",
                          "lse_offset",  "error",      "note"};

std::vector<std::string> row(const VideoEvaluation& v) {
  const bool ok = v.error.empty();
  const bool s = ok && v.sync.has_value();
  const bool lse = ok && v.lse.has_value();
  return {v.name,
          ok ? std::to_string(v.frames) : "",
          ok ? fixed(v.psnr_face) : "",
          ok ? fixed(v.ssim_face, 4) : "",
          ok ? fixed(v.psnr_mouth) : "",
          ok ? fixed(v.ssim_mouth, 4) : "",
          ok ? fixed(v.lmd) : "",
          ok ? fixed(v.lmd_iod, 4) : "",
          ok ? fixed(v.seam_ratio, 3) : "",
          ok ? fixed(v.colour_shift_lab, 2) : "",
          ok ? fixed(v.mouth_sharpness_ratio, 3) : "",
          ok ? fixed(v.lpips_face, 4) : "",
          ok ? fixed(v.lpips_mouth, 4) : "",
          ok ? fixed(v.fid, 2) : "",
          s ? std::to_string(v.sync->offset) : "",
          s ? fixed(v.sync->confidence, 4) : "",
          s ? fixed(v.sync->score, 4) : "",
          lse ? fixed(v.lse->confidence, 3) : "",
          lse ? fixed(v.lse->distance, 3) : "",
          lse ? std::to_string(v.lse->offset) : "",
          v.error,
          v.note};
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The set-wide LPIPS/FID facts: what was computed, or why not.
nlohmann::json perceptual_json(const Evaluation& e) {
  nlohmann::json lpips = e.lpips_backbone.empty() ? nlohmann::json{{"not_computed", e.lpips_absent}}
                                                  : nlohmann::json{{"backbone", e.lpips_backbone}};
  nlohmann::json fid = {{"value", number(e.fid)}, {"frames", e.fid_frames},
                        {"min_frames_per_video", kMinFramesForVideoFid}};
  if (!std::isfinite(e.fid)) fid["not_computed"] = e.fid_absent;
  return {{"lpips", lpips}, {"fid", fid}};
}

std::string perceptual_html(const Evaluation& e) {
  std::string lpips = e.lpips_backbone.empty()
                          ? "LPIPS not computed (" + e.lpips_absent + ")"
                          : "LPIPS (lpips 0.1, " + e.lpips_backbone + ") of the face crop and the mouth rectangle";
  std::string fid = std::isfinite(e.fid)
                        ? "FID of all result face crops against all source face crops: <b>" + fixed(e.fid, 2) +
                              "</b> over " + std::to_string(e.fid_frames) +
                              " crops each (biased upwards on so few; compare only runs of the same frames); "
                              "per video from " + std::to_string(kMinFramesForVideoFid) + " frames"
                        : "FID not computed (" + e.fid_absent + ")";
  return "<p>" + html_escape(lpips) + ". " + fid + ".</p>";
}

// The set's LSE-C/LSE-D (means over the videos scored), or why they are not computed.
nlohmann::json lse_json(const Evaluation& e) {
  nlohmann::json lse = {{"lse_c", number(e.lse_c)}, {"lse_d", number(e.lse_d)}, {"videos", e.lse_videos},
                        {"face_box", "from dlib's 68 landmarks, not syncnet_python's S3FD (docs/evaluation.md)"}};
  if (!e.lse_absent.empty()) lse["not_computed"] = e.lse_absent;
  return lse;
}

std::string lse_html(const Evaluation& e) {
  if (!e.lse_absent.empty()) return "<p>LSE-C/LSE-D not computed (" + html_escape(e.lse_absent) + ").</p>";
  return "<p>LSE-C <b>" + fixed(e.lse_c, 3) + "</b>, LSE-D <b>" + fixed(e.lse_d, 3) + "</b> (mean over " +
         std::to_string(e.lse_videos) +
         " videos; syncnet_python's SyncNet, face box from our landmarks instead of S3FD, so not exactly a "
         "paper's figure).</p>";
}

std::string html_page(const Evaluation& evaluation, const EvaluateOptions& options) {
  const std::vector<VideoEvaluation>& videos = evaluation.videos;
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>dinet evaluation</title><style>"
       "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f0f0}"
       "td:first-child{text-align:left}.curve text{font-size:12px}.axis{fill:#666}"
       ".err{color:#b00}img{margin:4px;border:1px solid #ccc}</style></head><body>"
       "<h1>dinet evaluation</h1><p>Results in <code>"
    << html_escape(options.result_dir.string()) << "</code> against <code>"
    << html_escape(options.test_video_dir.string())
    << "</code>. PSNR/SSIM compare the face crop and the mouth rectangle with the source (ground "
       "truth when the driving audio is the source's own); LMD is the mean mouth-landmark distance "
       "in model-face pixels (lmd_iod: over the inter-ocular distance); seam_ratio (1: no seam), "
       "colour_shift_lab and mouth_sharpness_ratio (1: as sharp as the source) are taken around the "
       "lower-face paste mask of the source's landmarks; sync figures come from "
    << (options.syncnet_path.empty() ? std::string("no SyncNet (none given)")
                                     : "<code>" + html_escape(options.syncnet_path.string()) + "</code>")
    << ".</p>" << perceptual_html(evaluation) << lse_html(evaluation) << "<table><tr>";
  for (const char* c : kColumns) h << "<th>" << c << "</th>";
  h << "</tr>";
  for (const auto& v : videos) {
    h << "<tr>";
    for (const auto& cell : row(v)) h << "<td>" << html_escape(cell) << "</td>";
    h << "</tr>";
  }
  h << "</table>";
  for (const auto& v : videos) {
    h << "<h2>" << html_escape(v.name) << "</h2>";
    if (!v.error.empty()) {
      h << "<p class='err'>" << html_escape(v.error) << "</p>";
      continue;
    }
    if (!v.note.empty()) h << "<p>" << html_escape(v.note) << "</p>";
    h << svg_curve("PSNR of the face per frame (dB)", v.psnr_face_by_frame)
      << svg_curve("Mouth landmark distance per frame (model pixels)", v.lmd_by_frame);
    if (!v.lpips_face_by_frame.empty()) h << svg_curve("LPIPS of the face per frame", v.lpips_face_by_frame);
    if (v.sync) {
      h << svg_curve("SyncNet score per frame at offset 0", v.sync->score_by_frame)
        << svg_curve("Mean SyncNet score by audio offset (frames)", v.sync->score_by_offset,
                     "offset +" + std::to_string(options.max_offset));
    }
    h << "<div><p>Source | result</p>";
    for (const cv::Mat& still : v.stills) {
      h << "<img src='" << jpeg_data_url(still) << "'>";
    }
    h << "</div>";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

void write_evaluation_report(const fs::path& dir, const Evaluation& evaluation, const EvaluateOptions& options) {
  const std::vector<VideoEvaluation>& videos = evaluation.videos;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& v : videos) all.push_back(to_json(v));
  nlohmann::json metrics = perceptual_json(evaluation);
  metrics["lse"] = lse_json(evaluation);
  metrics["videos"] = all;
  write_file_atomic(dir / "metrics.json", metrics.dump(2) + "\n");

  std::string csv;
  for (const char* c : kColumns) csv += (csv.empty() ? "" : ",") + std::string(c);
  csv += "\n";
  for (const auto& v : videos) {
    const auto cells = row(v);
    for (size_t i = 0; i < cells.size(); ++i) csv += (i ? "," : "") + csv_field(cells[i]);
    csv += "\n";
  }
  write_file_atomic(dir / "metrics.csv", csv);
  write_file_atomic(dir / "report.html", html_page(evaluation, options));
}

}  // namespace dinet
