// `dinet serve`'s API as a client sees it: a job round trip on a short clip, progress events,
// cancel, a restart that keeps a finished job, the limits, the token, and every kind of bad
// request answered with a 4xx JSON error while the server stays up.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dinet/media.h"
#include "serve_test_support.h"

namespace dinet::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string server_args(const TempDir& dir, const JobInputs& in, const std::string& extra = "") {
  return "--model_path " + in.model.string() + " --jobs_dir " + (dir / "jobs").string() + " --threads 1 " + extra;
}

TEST(ServeApi, JobRoundTripEventsRestartAndDelete) {
  TempDir dir;
  const JobInputs in = make_job_inputs(dir, 2.0);
  std::string id;
  {
    ServerProcess server(server_args(dir, in), dir / "server1.log");
    ASSERT_GT(server.port(), 0) << server.output();
    const HttpReply page = http_request(server.port(), "GET", "/");
    EXPECT_EQ(page.status, 200);
    for (const char* element : {"video-file", "audio-file", "submit", "progress", "result"})
      EXPECT_NE(page.body.find(std::string("id=\"") + element + "\""), std::string::npos) << element;

    const HttpReply submitted = post_form(server.port(), "/api/jobs",
                                          {{"video", "face.mp4", in.video_bytes},
                                           {"audio", "speech.wav", in.audio_bytes},
                                           {"options", "", R"({"precision": "fp32"})"}});
    ASSERT_EQ(submitted.status, 202) << submitted.body;
    id = json::parse(submitted.body)["id"];

    // The event stream runs until the job ends; its last event is the final state.
    const HttpReply events = http_request(server.port(), "GET", "/api/jobs/" + id + "/events");
    EXPECT_EQ(events.status, 200);
    EXPECT_EQ(events.headers.at("content-type"), "text/event-stream");
    const size_t last = events.body.rfind("data: ");
    ASSERT_NE(last, std::string::npos) << events.body;
    const json final_event = json::parse(events.body.substr(last + 6));
    EXPECT_EQ(final_event["state"], "done") << events.body << "\n" << server.output();
    EXPECT_DOUBLE_EQ(final_event["progress"].get<double>(), 1.0);

    const HttpReply result = http_request(server.port(), "GET", "/api/jobs/" + id + "/result");
    ASSERT_EQ(result.status, 200);
    EXPECT_EQ(result.headers.at("content-type"), "video/mp4");
    write_file_atomic(dir / "result.mp4", result.body);
    const MediaStreams streams = probe_media(dir / "result.mp4");
    EXPECT_TRUE(streams.video);
    EXPECT_TRUE(streams.audio);
    EXPECT_NEAR(streams.duration_s, 2.0, 0.2);
    EXPECT_NE(streams.comment.find("lip-synced by dinet"), std::string::npos) << streams.comment;
    EXPECT_EQ(server.stop(), 0);  // SIGTERM is how a service manager stops it: a clean exit
  }
  // A restart on the same folder keeps the finished job and its result.
  ServerProcess again(server_args(dir, in), dir / "server2.log");
  ASSERT_GT(again.port(), 0) << again.output();
  EXPECT_EQ(json::parse(http_request(again.port(), "GET", "/api/jobs/" + id).body)["state"], "done");
  EXPECT_EQ(http_request(again.port(), "GET", "/api/jobs/" + id + "/result").status, 200);
  const HttpReply deleted = http_request(again.port(), "DELETE", "/api/jobs/" + id);
  EXPECT_EQ(json::parse(deleted.body)["state"], "deleted");
  EXPECT_EQ(http_request(again.port(), "GET", "/api/jobs/" + id).status, 404);
  EXPECT_FALSE(fs::exists(dir / "jobs" / "jobs" / id));
}

TEST(ServeApi, CancelQueueLimitAndFailure) {
  TempDir dir;
  const JobInputs in = make_job_inputs(dir, 6.0);
  ServerProcess server(server_args(dir, in, "--max_running 1 --max_queued 1"), dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const std::vector<FormField> form = {{"video", "face.mp4", in.video_bytes}, {"audio", "a.wav", in.audio_bytes}};
  const std::string first = json::parse(post_form(server.port(), "/api/jobs", form).body)["id"];
  const std::string second = json::parse(post_form(server.port(), "/api/jobs", form).body)["id"];
  // One runs, one waits: a third is refused.
  const HttpReply third = post_form(server.port(), "/api/jobs", form);
  EXPECT_EQ(third.status, 503) << third.body;
  EXPECT_TRUE(json::parse(third.body).contains("error"));

  EXPECT_EQ(json::parse(http_request(server.port(), "DELETE", "/api/jobs/" + second).body)["state"], "cancelled");
  EXPECT_EQ(json::parse(http_request(server.port(), "DELETE", "/api/jobs/" + first).body)["state"], "cancelled");
  EXPECT_EQ(wait_for_job_end(server.port(), first, 30)["state"], "cancelled");
  EXPECT_EQ(json::parse(http_request(server.port(), "GET", "/api/jobs/" + second).body)["state"], "cancelled");
  EXPECT_EQ(http_request(server.port(), "GET", "/api/jobs/" + first + "/result").status, 409);

  // A video without a face fails with a message naming the user's file, not our paths.
  Audio noise;
  noise.samples.assign(16000, 0.0f);
  cv::Mat grey(128, 128, CV_8UC3, cv::Scalar(90, 90, 90));
  {
    VideoWriter writer(dir / "grey.mp4", 128, 128, {}, &noise);
    for (int i = 0; i < 25; ++i) writer.write(grey);
    writer.finish();
  }
  const HttpReply faceless = post_form(server.port(), "/api/jobs",
                                       {{"video", "wall.mp4", read_file(dir / "grey.mp4")}, {"audio", "a.wav", in.audio_bytes}});
  ASSERT_EQ(faceless.status, 202) << faceless.body;
  const json failed = wait_for_job_end(server.port(), json::parse(faceless.body)["id"], 60);
  EXPECT_EQ(failed["state"], "failed");
  const std::string error = failed["error"];
  EXPECT_NE(error.find("wall.mp4"), std::string::npos) << error;
  EXPECT_EQ(error.find((dir / "jobs").string()), std::string::npos) << error;
}

TEST(ServeApi, BadRequestsGetJsonErrorsAndTheServerStaysUp) {
  TempDir dir;
  const JobInputs in = make_job_inputs(dir, 1.0);
  ServerProcess server(server_args(dir, in, "--max_upload_mb 1"), dir / "server.log");
  ASSERT_GT(server.port(), 0) << server.output();
  const int port = server.port();
  const auto expect_error = expect_api_error;
  expect_error(http_request(port, "GET", "/api/jobs/000000000000000000000000"), 404, "no job");
  expect_error(http_request(port, "GET", "/api/jobs/..%2F..%2Fetc"), 404, "no job");
  expect_error(http_request(port, "GET", "/api/nothing"), 404, "no route");
  expect_error(http_request(port, "GET", "/../../etc/passwd"), 404, "");
  expect_error(http_request(port, "PUT", "/api/jobs"), 405, "not supported");
  expect_error(http_request(port, "POST", "/api/jobs", "{}", {{"Content-Type", "application/json"}}), 415, "multipart");
  expect_error(http_request(port, "POST", "/api/jobs", "--x\r\nbroken", {{"Content-Type", "multipart/form-data; boundary=x"}}),
               400, "multipart");
  const FormField video{"video", "v.mp4", in.video_bytes}, audio{"audio", "a.wav", in.audio_bytes};
  expect_error(post_form(port, "/api/jobs", {video}), 400, "no audio");
  expect_error(post_form(port, "/api/jobs", {video, audio, {"options", "", "{not json"}}), 400, "not JSON");
  expect_error(post_form(port, "/api/jobs", {video, audio, {"options", "", R"({"mouth": 256})"}}), 400, "unknown option");
  expect_error(post_form(port, "/api/jobs", {video, audio, {"options", "", R"({"precision": "fp8"})"}}), 400, "precision");
  expect_error(post_form(port, "/api/jobs", {{"video", "notes.mp4", "this is text"}, audio}), 415, "notes.mp4: not a video");
  expect_error(post_form(port, "/api/jobs", {{"video", "a.wav", in.audio_bytes}, audio}), 415, "no video stream");
  expect_error(post_form(port, "/api/jobs", {video, {"audio", "../../x.wav", "RIFF...."}}), 415, "not a video or audio");
  expect_error(http_request(port, "GET", "/api/jobs/0123456789abcdef01234567/result"), 404, "no job");
  EXPECT_FALSE(fs::exists(dir / "x.wav"));

  // Over the limit: answered 413 from the headers alone, before a byte of the body is sent.
  {
    namespace http = boost::beast::http;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const std::string header =
        "POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 52428800\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(header));
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    expect_error({static_cast<int>(response.result_int()), {}, response.body()}, 413, "max_upload_mb");
  }
  // Garbage that is not HTTP: the connection closes, the server goes on.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    boost::asio::write(socket, boost::asio::buffer(std::string("\x16\x03\x01 not http at all\r\n\r\n")));
  }
  EXPECT_EQ(http_request(port, "GET", "/api/health").status, 200);
  EXPECT_FALSE(server.exited()) << server.output();
  // Nothing was left behind by the refused uploads.
  EXPECT_TRUE(fs::is_empty(dir / "jobs" / "tmp"));
  EXPECT_TRUE(fs::is_empty(dir / "jobs" / "jobs"));
}

TEST(ServeApi, TokenIsRequiredOffLoopbackAndCheckedOnEveryRequest) {
  TempDir dir;
  const fs::path model = save_random_model(dir / "model.pth", 64, audio_feature_spec("mel"));
  ServerProcess open_to_all("--host 0.0.0.0 --model_path " + model.string() + " --jobs_dir " + (dir / "a").string(),
                            dir / "a.log");
  EXPECT_EQ(open_to_all.port(), 0);
  for (int i = 0; i < 100 && !open_to_all.exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(open_to_all.exit_status(), 1);
  EXPECT_NE(open_to_all.output().find("--token"), std::string::npos) << open_to_all.output();

  ServerProcess guarded("--token s3cret --model_path " + model.string() + " --jobs_dir " + (dir / "b").string(),
                        dir / "b.log");
  ASSERT_GT(guarded.port(), 0) << guarded.output();
  EXPECT_EQ(http_request(guarded.port(), "GET", "/api/jobs").status, 401);
  EXPECT_EQ(http_request(guarded.port(), "GET", "/").status, 401);
  EXPECT_EQ(http_request(guarded.port(), "GET", "/api/jobs", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(http_request(guarded.port(), "GET", "/api/jobs", "", {{"Authorization", "Bearer s3cret"}}).status, 200);
  const HttpReply page = http_request(guarded.port(), "GET", "/?token=s3cret");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.headers.at("set-cookie").find("dinet_token=s3cret"), std::string::npos);
  EXPECT_EQ(http_request(guarded.port(), "GET", "/api/jobs", "", {{"Cookie", "dinet_token=s3cret"}}).status, 200);
}

}  // namespace
}  // namespace dinet::test
