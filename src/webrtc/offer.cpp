#include "webrtc/offer.h"

#include "dinet/error.h"

#include <gst/sdp/sdp.h>

#include <cstdlib>
#include <memory>
#include <strings.h>

namespace dinet::webrtc {
namespace {

// The payload type of `codec` in one m-line's "a=rtpmap:<pt> <codec>/<rate>..." lines, -1 if absent.
int find_payload(const GstSDPMedia* media, const char* codec) {
  const size_t codec_length = std::char_traits<char>::length(codec);
  for (unsigned i = 0; i < gst_sdp_media_attributes_len(media); ++i) {
    const GstSDPAttribute* attribute = gst_sdp_media_get_attribute(media, i);
    if (!attribute->key || std::string(attribute->key) != "rtpmap" || !attribute->value) continue;
    char* rest = nullptr;
    const long payload = std::strtol(attribute->value, &rest, 10);
    if (rest == attribute->value || *rest != ' ') continue;
    ++rest;
    if (strncasecmp(rest, codec, codec_length) == 0 && rest[codec_length] == '/') return int(payload);
  }
  return -1;
}

}  // namespace

OfferMedia find_offer_media(const std::string& sdp) {
  GstSDPMessage* parsed = nullptr;
  gst_sdp_message_new(&parsed);
  std::unique_ptr<GstSDPMessage, decltype(&gst_sdp_message_free)> message(parsed, gst_sdp_message_free);
  // GStreamer's parser accepts almost any text; an offer without a media line is no offer.
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(sdp.data()), guint(sdp.size()),
                                   parsed) != GST_SDP_OK ||
      gst_sdp_message_medias_len(parsed) == 0)
    throw Error("webrtc offer", "not an SDP offer with media lines");
  OfferMedia found;
  for (unsigned i = 0; i < gst_sdp_message_medias_len(parsed); ++i) {
    const GstSDPMedia* media = gst_sdp_message_get_media(parsed, i);
    // Port 0 rejects an m-line unless it is "bundle-only" (sent over the first m-line's port).
    const bool rejected =
        gst_sdp_media_get_port(media) == 0 && !gst_sdp_media_get_attribute_val(media, "bundle-only");
    if (rejected || !gst_sdp_media_get_media(media)) continue;
    const std::string kind = gst_sdp_media_get_media(media);
    if (kind == "audio" && found.audio.payload < 0) {
      found.audio = {i, find_payload(media, "opus")};
    } else if (kind == "video" && found.video.payload < 0) {
      found.video = {i, find_payload(media, "VP8")};
    }
  }
  if (found.audio.payload < 0) throw Error("webrtc offer", "no audio m-line with Opus");
  if (found.video.payload < 0) throw Error("webrtc offer", "no video m-line with VP8");
  return found;
}

}  // namespace dinet::webrtc
