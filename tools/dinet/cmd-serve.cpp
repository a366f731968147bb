// dinet serve: the web page and the HTTP API for dubbing jobs (docs/serve.md).
#include <cstdio>

#include "commands.h"
#include "dinet/interrupt.h"
#include "dinet/serve.h"

namespace dinet::cli {

void setup_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* verb = app.add_subcommand(
      "serve", "A web page and an HTTP API: dub uploaded videos, and talk to an avatar live over WebRTC (docs/serve.md)");
  verb->add_option("--host", o->host,
                   "address to listen on; other than loopback it needs --token (default: 127.0.0.1)");
  verb->add_option("--port", o->port, "TCP port; 0 picks a free one (default: 8000)")->check(CLI::Range(0, 65535));
  verb->add_option("--model_path", o->model_path, "the generator checkpoint jobs dub with")->required();
  verb->add_option("--audio_feature", o->audio_feature, "deepspeech or mel (default: the checkpoint's)")
      ->check(CLI::IsMember({"deepspeech", "mel"}));
  verb->add_option("--deepspeech_model", o->deepspeech_model, "output_graph.pb, for a DeepSpeech model");
  verb->add_option("--precision", o->precision, "of jobs that do not choose: auto, fp32, bf16, fp16, int8 (default: auto)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16", "int8"}));
  verb->add_option("--device", o->device, "cpu or cuda (default: cpu)")->check(CLI::IsMember({"cpu", "cuda"}));
  verb->add_option("--jobs_dir", o->jobs_dir, "where jobs keep their files (default: ./dinet-serve)");
  verb->add_option("--max_upload_mb", o->max_upload_mb, "largest upload, video and audio together (default: 500)")
      ->check(CLI::PositiveNumber);
  verb->add_option("--token", o->token,
                   "password every request must carry (Authorization: Bearer, or open /?token=... once); "
                   "also read from $DINET_TOKEN")
      ->envname("DINET_TOKEN");
  verb->add_option("--max_running", o->max_running, "jobs dubbed at once (default: 1)")->check(CLI::PositiveNumber);
  verb->add_option("--max_queued", o->max_queued, "jobs waiting at most; more are answered 503 (default: 8)")
      ->check(CLI::NonNegativeNumber);
  verb->add_option("--max_sessions", o->max_sessions, "live sessions at once; more are answered 503 (default: 2)")
      ->check(CLI::NonNegativeNumber);
  verb->add_option("--avatar", o->avatars,
                   "a video of a person prepared at start for live sessions (repeatable); the page preselects the first");
  verb->add_option("--stun", o->stun, "STUN server for live sessions beyond the LAN, stun://host:port (default: none)");
  verb->add_option("--retention_hours", o->retention_hours,
                   "jobs older than this are deleted with their files; 0 keeps them (default: 24)");
  verb->add_option("--client_timeout", o->client_timeout_s,
                   "seconds a client may stay silent, and within which a request's header must arrive whole "
                   "(default: 30)")
      ->check(CLI::Range(1, 3600));
  verb->add_option("--web_dir", o->web_dir, "serve the page from this folder instead of the built-in one (for work on web/)");
  add_threads_option(verb, o->threads);
  verb->callback([o] {
    InterruptScope interrupts("dinet serve");
    Server server(*o);
    std::printf("dinet serve: http://%s:%d/  (model %s, jobs in %s; Ctrl-C stops)\n",
                o->host.find(':') != std::string::npos ? ("[" + o->host + "]").c_str() : o->host.c_str(),
                server.port(), o->model_path.filename().c_str(), o->jobs_dir.c_str());
    std::fflush(stdout);
    server.run();
  });
}

}  // namespace dinet::cli
