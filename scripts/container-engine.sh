#!/bin/sh
# Picks the container engine that works here and the flags it needs, for `make image` and
# `make image-test`; prints them as shell assignments (engine=..., flags=...) to eval.
#  - the engine: docker or podman, the first whose `info` succeeds (installed is not enough);
#    ENGINE=... in the environment chooses instead (ENGINE_FLAGS: its flags).
#  - the base image debian:12: pulled, or where no registry is reachable built from the Debian
#    mirror apt uses (scripts/debian-base-image.sh).
#  - sandbox settings: where a plain `run` fails (a restricted sandbox), podman with runc
#    (crun refuses hybrid cgroup v1/v2 hosts) and ulimits within the host's hard limits
#    (podman's defaults exceed them and setrlimit is refused).
set -e
if [ -n "${ENGINE:-}" ]; then
  printf "engine='%s'\nflags='%s'\n" "$ENGINE" "${ENGINE_FLAGS:-}"
  exit 0
fi
engine=""
for e in docker podman; do
  if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then engine="$e"; break; fi
done
if [ -z "$engine" ]; then
  echo "dinet: no working container engine: neither 'docker info' nor 'podman info' succeeds (install one: apt-get install podman)" >&2
  exit 1
fi

if ! "$engine" image inspect debian:12 >/dev/null 2>&1 &&
   ! "$engine" pull docker.io/library/debian:12 >/dev/null 2>&1; then
  echo "dinet: cannot pull debian:12, building it from the Debian mirror" >&2
  sh "$(dirname "$0")/debian-base-image.sh" "$engine" >&2
fi

flags=""
if ! err=$("$engine" run --rm debian:12 true 2>&1); then
  sandbox=""
  [ "$engine" = podman ] && command -v runc >/dev/null && sandbox="--runtime runc"
  # shellcheck disable=SC3045  # dash and bash have ulimit -H
  n=$(ulimit -Hn)
  flags="--ulimit nofile=$n:$n --ulimit nproc=16384:16384"
  # shellcheck disable=SC2086  # engine, sandbox and flags are words
  if ! err2=$($engine $sandbox run --rm $flags debian:12 true 2>&1); then
    echo "dinet: $engine cannot run a container here: $err" >&2
    echo "dinet: nor with '$sandbox $flags': $err2 (for podman: apt-get install runc)" >&2
    exit 1
  fi
  echo "dinet: $engine runs containers here only with: $sandbox $flags" >&2
  engine="$engine${sandbox:+ $sandbox}"
fi
printf "engine='%s'\nflags='%s'\n" "$engine" "$flags"
