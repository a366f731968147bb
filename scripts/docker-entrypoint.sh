#!/bin/sh
# Entry point of the dinet image: the published DINet command forms map onto our verbs,
# so `docker run IMAGE train_DINet_frame.py --augment_num 32 ...` works as users know it.
set -e
cmd="$1"
[ $# -gt 0 ] && shift
# The published README's form: `docker run ... IMAGE python3 train_DINet_frame.py ...`.
case "$cmd" in
  python|python3) cmd="$1"; [ $# -gt 0 ] && shift ;;
esac
case "$cmd" in
  data_processing.py)   exec dinet prepare "$@" ;;
  train_DINet_frame.py) exec dinet train frame "$@" ;;
  train_DINet_clip.py)  exec dinet train clip "$@" ;;
  train_syncnet.py)     exec dinet train sync "$@" ;;
  inference.py|run_inference.py) exec dinet infer "$@" ;;
  run_evaluate.py)      exec dinet evaluate "$@" ;;
  ""|-h|--help)         exec dinet --help ;;
  dinet)                exec dinet "$@" ;;
  *)                    exec dinet "$cmd" "$@" ;;
esac
