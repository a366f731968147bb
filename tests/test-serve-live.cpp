// `dinet serve`'s live API without a browser: avatars (prepare, list, delete with their
// files), sessions fed by a program (raw audio, WAV, text, interrupt), their statistics, the
// limits, the WebSocket's refusals, and every bad request answered with a 4xx JSON error.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/beast/websocket.hpp>

#include "infer_test_support.h"
#include "serve_test_support.h"

namespace dinet::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

json get_json(int port, const std::string& target) { return json::parse(http_request(port, "GET", target).body); }

// The id of the first avatar once it is ready (or failed: the test then says why).
json wait_for_avatar(int port, double seconds) {
  json avatars;
  for (int i = 0; i < seconds * 5; ++i) {
    avatars = get_json(port, "/api/avatars")["avatars"];
    if (!avatars.empty() && avatars[0]["state"] != "preparing") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return avatars.empty() ? json() : avatars[0];
}

TEST(ServeLive, AvatarsSessionsAndTheirBadRequests) {
  TempDir dir;
  const fs::path model = save_random_model(dir / "model.pth", 64, audio_feature_spec("mel"));
  const SynthClip clip = make_synth_clip(dir / "synth", 3.0);
  ServerProcess server("--model_path " + model.string() + " --jobs_dir " + (dir / "jobs").string() +
                           " --threads 1 --max_sessions 1 --avatar " + clip.video.string(),
                       dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const int port = server.port();
  const json avatar = wait_for_avatar(port, 60);
  ASSERT_EQ(avatar["state"], "ready") << avatar.dump() << "\n" << server.output();
  EXPECT_EQ(avatar["name"], clip.video.filename().string());
  EXPECT_EQ(avatar["frames"], 75);
  const std::string avatar_id = avatar["id"];

  auto post_json = [&](const std::string& target, const std::string& body) {
    return http_request(port, "POST", target, body, {{"Content-Type", "application/json"}});
  };
  const HttpReply created = post_json("/api/sessions", json{{"avatar", avatar_id}}.dump());
  ASSERT_EQ(created.status, 201) << created.body << "\n" << server.output();
  const std::string id = json::parse(created.body)["id"];
  // --max_sessions 1: a second is refused.
  EXPECT_EQ(post_json("/api/sessions", json{{"avatar", avatar_id}}.dump()).status, 503);

  // A program's input: raw 16 kHz s16le, a WAV, text, an interrupt.
  std::string raw(16000 * 2, '\0');
  for (size_t i = 0; i < raw.size() / 2; ++i) {
    const auto v = static_cast<int16_t>(8000 * std::sin(i * 0.05));
    std::memcpy(&raw[2 * i], &v, 2);
  }
  EXPECT_EQ(http_request(port, "POST", "/api/sessions/" + id + "/audio", raw, {{"Content-Type", "audio/L16"}}).status, 200);
  const std::string wav = read_file(write_tone(dir / "tone.wav", 1.0));
  EXPECT_EQ(http_request(port, "POST", "/api/sessions/" + id + "/audio", wav, {{"Content-Type", "audio/wav"}}).status, 200);
  EXPECT_EQ(post_json("/api/sessions/" + id + "/say", R"({"text": "Hello there."})").status, 200);
  EXPECT_EQ(post_json("/api/sessions/" + id + "/interrupt", "").status, 200);

  // The session runs in real time, with or without a browser: frames count up.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const json stats = get_json(port, "/api/stats");
  ASSERT_EQ(stats["sessions"].size(), 1u) << stats.dump();
  EXPECT_EQ(stats["sessions"][0]["id"], id);
  EXPECT_GT(stats["sessions"][0]["frames"].get<int64_t>(), 25) << stats.dump();
  for (const char* key : {"fps", "latency_p50_ms", "latency_p95_ms", "frames_dropped", "audio_underruns", "lookahead_ms"})
    EXPECT_TRUE(stats["sessions"][0].contains(key)) << key;

  const auto expect_error = expect_api_error;
  expect_error(post_json("/api/sessions", "{oops"), 400, "not JSON");
  expect_error(post_json("/api/sessions", R"({"avatar": 7})"), 400, "avatar");
  expect_error(post_json("/api/sessions", R"({"avatar": "0123456789abcdef01234567"})"), 404, "no avatar");
  expect_error(post_json("/api/sessions/" + id + "/say", R"({"words": "x"})"), 400, "text");
  expect_error(post_json("/api/sessions/" + id + "/say", R"({"text": ""})"), 400, "text");
  expect_error(http_request(port, "POST", "/api/sessions/" + id + "/audio", "abc", {{"Content-Type", "audio/L16"}}), 400,
               "16-bit");
  expect_error(http_request(port, "POST", "/api/sessions/" + id + "/audio", "not a wav", {{"Content-Type", "audio/wav"}}),
               415, "not a media file");
  expect_error(post_json("/api/sessions/0123456789abcdef01234567/say", R"({"text": "x"})"), 404, "no live session");
  expect_error(http_request(port, "GET", "/api/sessions/" + id + "/say"), 405, "not supported");
  expect_error(post_form(port, "/api/avatars", {{"video", "a.txt", "plain text"}}), 415, "not a video");

  // WebSocket refusals: an unknown session; a bad signalling message closes with an error.
  {
    namespace websocket = boost::beast::websocket;
    boost::asio::io_context io;
    websocket::stream<boost::asio::ip::tcp::socket> ws(io);
    ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    boost::system::error_code ec;
    ws.handshake("127.0.0.1", "/api/sessions/0123456789abcdef01234567/ws", ec);
    EXPECT_TRUE(ec) << "a WebSocket to an unknown session must be refused";
  }
  {
    namespace websocket = boost::beast::websocket;
    boost::asio::io_context io;
    websocket::stream<boost::asio::ip::tcp::socket> ws(io);
    ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    ws.handshake("127.0.0.1", "/api/sessions/" + id + "/ws");
    ws.write(boost::asio::buffer(std::string("{\"type\": \"offer\", \"sdp\": \"not sdp\"}")));
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    ws.read(buffer, ec);
    const json reply = json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false);
    EXPECT_EQ(reply.value("type", ""), "error") << boost::beast::buffers_to_string(buffer.data());
  }
  // The browser's WebSocket closed: its session ended with it.
  for (int i = 0; i < 50 && !get_json(port, "/api/stats")["sessions"].empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(get_json(port, "/api/stats")["sessions"].empty());
  EXPECT_EQ(http_request(port, "DELETE", "/api/sessions/" + id).status, 404);

  // Deleting the avatar removes every file made from it.
  EXPECT_EQ(http_request(port, "DELETE", "/api/avatars/" + avatar_id).status, 200);
  EXPECT_FALSE(fs::exists(dir / "jobs" / "avatars" / avatar_id));
  EXPECT_TRUE(get_json(port, "/api/avatars")["avatars"].empty());
  EXPECT_EQ(http_request(port, "GET", "/api/health").status, 200);
}

TEST(ServeLive, AModelThatIsNotMelSaysWhyLiveSessionsAreOff) {
  TempDir dir;
  const fs::path model = save_random_model(dir / "model.pth", 64, audio_feature_spec("deepspeech"));
  ServerProcess server("--model_path " + model.string() + " --jobs_dir " + (dir / "jobs").string(), dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const json stats = get_json(server.port(), "/api/stats");
  EXPECT_FALSE(stats["enabled"].get<bool>());
  EXPECT_NE(stats["reason"].get<std::string>().find("mel"), std::string::npos) << stats.dump();
}

}  // namespace
}  // namespace dinet::test
