#!/usr/bin/env bash
# Builds the libFuzzer harnesses (address sanitizer on) and runs each target for SECONDS (default 60), starting from
# seed corpora made from the reference vectors. A crash stops the run: its input is kept under
# Fuzz/.build/crashes/<target>-crash-*; make it a regression test. Usage: Fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(irc-line room-entry room-wire replication-message proof protomux secret-stream-handshake secret-stream-frames udx-packet udx-stream dht-message sealed-entry room-invite people-hello)
fi
cd "$here"
mkdir -p "$here/.build"
# The build's output goes to a file (gold warns about every sanitizer helper symbol); shown when it fails.
if ! swift build --sanitize=fuzzer --sanitize=address --product pear-fuzz >"$here/.build/fuzz-build.log" 2>&1; then
  grep -v "Cannot export local symbol" "$here/.build/fuzz-build.log" | tail -40
  exit 1
fi
binary="$(swift build --sanitize=fuzzer --sanitize=address --show-bin-path)/pear-fuzz"
python3 "$here/make-seeds.py" "$here/.build/seeds"
mkdir -p "$here/.build/crashes"
for target in "${targets[@]}"; do
  corpus="$here/.build/corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  # The Swift runtime's own backtracer would hold a crashing process for a long time; libFuzzer reports instead.
  SWIFT_BACKTRACE=enable=no PEAR_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$here/.build/crashes/$target-" "$corpus" "$here/.build/seeds/$target" 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Fatal error|INFO: Running with)" || true
  # grep swallows the exit status; a crash leaves an artifact behind.
  if ls "$here/.build/crashes/$target-"* >/dev/null 2>&1; then
    echo "fuzz: $target crashed; inputs in $here/.build/crashes/" >&2
    exit 1
  fi
done
echo "fuzz: no crashes"
