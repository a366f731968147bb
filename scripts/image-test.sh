#!/bin/sh
# The image test (make image-test): the published command forms run inside the image on the
# built-in sample (dinet synth), with asserts/ mounted from the host, and their outputs checked.
# The sequence is `dinet demo`'s (tools/dinet/cmd-demo.cpp), a frame training of a few steps.
#   scripts/image-test.sh IMAGE
set -eu
image="${1:?usage: image-test.sh IMAGE}"
# engine and flags: the engine that works here and its sandbox settings.
engine="" flags=""
setup=$(sh "$(dirname "$0")/container-engine.sh")
eval "$setup"
work=$(mktemp -d "${TMPDIR:-/tmp}/dinet-image-test.XXXXXX")
# Kept when a step fails, to look at; removed when all passed.
finish() {
  if [ "$1" = 0 ]; then rm -rf "$work"; else echo "image-test: FAILED, outputs kept in $work" >&2; fi
}
trap 'finish $?' EXIT
asserts="$work/asserts"
mkdir -p "$asserts"
started=$(date +%s)

in_image() {
  echo "+ $*"
  # shellcheck disable=SC2086  # engine and flags are words
  $engine run --rm $flags -v "$asserts:/work/asserts" "$image" "$@"
}
# Fails naming the file when a path under asserts/ is missing or empty.
expect() {
  for p in "$@"; do
    [ -s "$asserts/$p" ] || { echo "image-test: $asserts/$p missing or empty" >&2; exit 1; }
  done
}
# The number of files under asserts/$1 named $2, at least $3.
expect_count() {
  n=$(find "$asserts/$1" -name "$2" -type f | wc -l)
  [ "$n" -ge "$3" ] || { echo "image-test: $asserts/$1: $n files $2, expected at least $3" >&2; exit 1; }
}

td=asserts/training_data
in_image dinet synth --out $td/split_video_25fps --videos 2 --seconds 4 --size 256x256 --seed 1
in_image dinet synth --out asserts/test_data/split_video_25fps --videos 1 --seconds 4 --size 256x256 --seed 99
expect training_data/split_video_25fps/synth_000.mp4 test_data/split_video_25fps/synth_000.mp4

# The published data-processing steps, one command each, in their order.
in_image data_processing.py --extract_video_frame
expect_count training_data/split_video_25fps_frame '*.jpg' 100
in_image data_processing.py --extract_audio
expect training_data/split_video_25fps_audio/synth_000.wav
in_image data_processing.py --extract_deep_speech --audio_feature mel
expect training_data/split_video_25fps_deepspeech/synth_000_mel.npy
in_image data_processing.py --crop_face
expect_count training_data/split_video_25fps_crop_face '*.jpg' 9
in_image data_processing.py --generate_training_json --audio_feature mel
expect training_data/training_json.json

# Frame training for a few steps: one epoch of the sample, mouth 64, a random VGG; in the
# published README's form with the interpreter named (the entry point drops it).
result=asserts/training_model_weight/frame_training_64
in_image python train_DINet_frame.py --train_data $td/training_json.json --augment_num 2 \
  --mouth_region_size 64 --batch_size 4 --non_decay 1 --decay 0 --checkpoint 1 --vgg_weights random --result_path $result
model=$(find "$asserts/training_model_weight/frame_training_64" -name 'netG_model_epoch_*.pth' | head -1)
[ -n "$model" ] || { echo "image-test: train_DINet_frame.py wrote no netG_model_epoch_*.pth" >&2; exit 1; }
model=$(basename "$model")

in_image run_inference.py --process_num 1 --mouth_region_size 64 --model_path "$result/$model"
expect inference_result/synth_000_facial_dubbing_add_audio.mp4 inference_result/inference_summary.json

in_image run_evaluate.py
expect evaluate_result/report.html

echo "image-test: passed in $(( $(date +%s) - started )) s: synth, data_processing.py (5 steps), train_DINet_frame.py, run_inference.py, run_evaluate.py"
