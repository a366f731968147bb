// dinet forward: runs one published network on .npy inputs and writes its output as .npy,
// so the C++ networks can be checked against PyTorch on any weights and inputs.
#include <torch/torch.h>

#include <sstream>

#include "commands.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/interrupt.h"
#include "dinet/networks.h"
#include "dinet/npy.h"
#include "dinet/runtime.h"

namespace dinet::cli {
namespace {

struct ForwardOptions {
  std::string model;
  std::string checkpoint;
  std::vector<std::string> inputs;
  std::string output;
  std::string mode = "eval";
  int threads = 0;
};

struct Input {
  std::string file;
  at::Tensor tensor;
};

std::string shape_of(const at::Tensor& t) {
  std::ostringstream s;
  s << "(";
  for (int64_t i = 0; i < t.dim(); ++i) s << (i ? "," : "") << t.size(i);
  s << ")";
  return s.str();
}

void require_shape(const Input& input, bool ok, const std::string& expected) {
  if (!ok) throw Error(input.file, "expected " + expected + ", got shape " + shape_of(input.tensor));
}

void require_face_images(const Input& input, int64_t channels, const std::string& what) {
  const at::Tensor& t = input.tensor;
  require_shape(input,
                t.dim() == 4 && t.size(1) == channels &&
                    DINet::Impl::mouth_region_for_face(t.size(2), t.size(3)) > 0,
                "(B," + std::to_string(channels) + ",H,W) " + what +
                    " with H x W a model face size (104x80, 208x160, 416x320, ...)");
}

void require_audio(const Input& input, int64_t channels, int64_t frames) {
  const at::Tensor& t = input.tensor;
  require_shape(input, t.dim() == 3 && t.size(1) == channels && t.size(2) == frames,
                "(B," + std::to_string(channels) + "," + std::to_string(frames) +
                    ") audio features (the checkpoint's audio channel count, " +
                    std::to_string(frames) + " frames)");
}

// Every input must have the first input's batch size.
void require_same_batch(const std::vector<Input>& inputs) {
  for (const Input& input : inputs)
    if (input.tensor.size(0) != inputs[0].tensor.size(0))
      throw Error(input.file, "batch " + std::to_string(input.tensor.size(0)) +
                                  " does not match batch " + std::to_string(inputs[0].tensor.size(0)) +
                                  " of " + inputs[0].file);
}

// Input channels of a loaded convolution (the checkpoint decides them).
int64_t conv_input_channels(const torch::nn::Module& net, const std::string& weight) {
  return net.named_parameters()[weight].size(1);
}

std::vector<Input> read_inputs(const ForwardOptions& options, size_t expected,
                               const std::string& names) {
  if (options.inputs.size() != expected)
    throw Error("--inputs: " + options.model + " takes " + std::to_string(expected) + " file" +
                (expected > 1 ? "s" : "") + " (" + names + "), got " +
                std::to_string(options.inputs.size()));
  std::vector<Input> inputs;
  for (const std::string& file : options.inputs)
    inputs.push_back({file, read_npy(file).to(at::kFloat)});
  return inputs;
}

at::Tensor run_dinet(const ForwardOptions& options) {
  const auto inputs = read_inputs(options, 3, "masked source, references, audio features");
  DINet net = load_dinet(options.checkpoint);
  // Channel counts come from the checkpoint; the published ones are 3 and 15.
  require_face_images(inputs[0], conv_input_channels(*net, "source_in_conv.0.conv.weight"),
                      "masked source faces");
  require_face_images(inputs[1], conv_input_channels(*net, "ref_in_conv.0.conv.weight"),
                      "reference faces");
  require_audio(inputs[2], net->audio_channel(), 5);
  require_same_batch(inputs);
  const at::Tensor& source = inputs[0].tensor;
  require_shape(inputs[1], inputs[1].tensor.sizes().slice(2) == source.sizes().slice(2),
                "references of the source's size " + std::to_string(source.size(2)) + "x" +
                    std::to_string(source.size(3)));
  net->train(options.mode == "train");
  return net->forward(source, inputs[1].tensor, inputs[2].tensor);
}

at::Tensor run_syncnet(const ForwardOptions& options) {
  const auto inputs = read_inputs(options, 2, "mouth images, audio features");
  SyncNet net = load_syncnet(options.checkpoint);
  const at::Tensor& mouths = inputs[0].tensor;
  const int64_t channels = conv_input_channels(*net, "face_encoder.face_conv.0.conv.weight");
  require_shape(inputs[0],
                mouths.dim() == 4 && mouths.size(1) == channels && mouths.size(2) == mouths.size(3) &&
                    mouths.size(2) >= 32 && mouths.size(2) % 32 == 0,
                "(B," + std::to_string(channels) +
                    ",m,m) mouth crops of five frames with m a multiple of 32 (64, 128, 256)");
  require_audio(inputs[1], net->audio_channel(), 9);
  require_same_batch(inputs);
  net->train(options.mode == "train");
  return net->forward(mouths, inputs[1].tensor);
}

at::Tensor run_discriminator(const ForwardOptions& options) {
  const auto inputs = read_inputs(options, 1, "images");
  const at::Tensor& images = inputs[0].tensor;
  // A generator checkpoint may hold both discriminators: five stacked frames mean clips.
  const bool clips = images.dim() == 4 && images.size(1) == 15;
  Discriminator net = load_discriminator(options.checkpoint, clips);
  require_face_images(inputs[0], net->in_channels(), "images");
  net->train(options.mode == "train");
  return net->forward(images).score;
}

void run_forward(const ForwardOptions& options) {
  set_threads(options.threads);
  // One network call has no safe point inside: Ctrl-C takes effect when it returns (a second
  // one quits at once), and nothing is written.
  const InterruptScope interrupts("dinet forward");
  const std::filesystem::path out = options.output;
  remove_dead_temporaries(out.parent_path().empty() ? "." : out.parent_path());
  torch::NoGradGuard no_grad;
  at::Tensor output;
  if (options.model == "dinet")
    output = run_dinet(options);
  else if (options.model == "syncnet")
    output = run_syncnet(options);
  else
    output = run_discriminator(options);
  throw_if_interrupted();
  write_npy(options.output, output);
}

}  // namespace

void setup_forward(CLI::App& app) {
  auto options = std::make_shared<ForwardOptions>();
  auto* verb = app.add_subcommand(
      "forward",
      "Run DINet, SyncNet or the discriminator on .npy inputs and write the output as .npy "
      "(float32), to check the networks against PyTorch");
  verb->add_option("--model", options->model,
                   "dinet (writes the generated faces), syncnet (the score map) or "
                   "discriminator (the final map)")
      ->required()
      ->check(CLI::IsMember({"dinet", "syncnet", "discriminator"}));
  verb->add_option("--checkpoint", options->checkpoint,
                   "torch.save file: generator {state_dict: {net_g}}, SyncNet {state_dict: {net}}, "
                   "discriminator {state_dict: {net_dI}} for 3-channel frames or {net_dV} for "
                   "15-channel clips, or a bare state dict; channel counts come from its weights")
      ->required();
  verb->add_option("--inputs", options->inputs,
                   "comma-separated .npy files. dinet: masked source (B,3,H,W), references "
                   "(B,15,H,W), audio (B,C,5); syncnet: mouths (B,15,m,m), audio (B,C,9); "
                   "discriminator: images (B,3 or 15,H,W). Images are RGB in [0,1]")
      ->required()
      ->delimiter(',');
  verb->add_option("--output", options->output, "output .npy file")->required();
  verb->add_option("--mode", options->mode,
                   "eval: running BatchNorm statistics; train: batch statistics (default: eval)")
      ->check(CLI::IsMember({"eval", "train"}));
  add_threads_option(verb, options->threads);
  verb->callback([options] { run_forward(*options); });
}

}  // namespace dinet::cli
