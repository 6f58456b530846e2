#!/usr/bin/env bash
# The GPU measurements in one command, for a machine with CUDA:
#   bash bench/gpu.sh          speed probes (minutes): standard and hifi on a 25 s clip, peak
#                              memory for 60 s, each with the reference trainer and the fast levers;
#                              then standard 25 s with the fast levers plus torch.compile (Inductor,
#                              and CUDA graphs)
#   bash bench/gpu.sh --full   also trains standard for real, 3 seeds each way, and compares the
#                              quality metrics of the fast levers against the reference's spread
# Needs bench/clips/ (python bench/make_clips.py, on a machine that reaches Debian's archive).
# Results: bench/results/speed-*-cuda-*.json, ab-*-cuda-*.json and quality-*-cuda-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY=${PY:-.venv/bin/python}; else PY=${PY:-python3}; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # runs from the checkout without installing it
C25=bench/clips/war-of-freedom-25s.wav
C60=bench/clips/war-of-freedom-60s.wav
[ -f "$C25" ] || "$PY" bench/make_clips.py
REF=(--set bank_size=0 --set amp=false --set tf32=false --set loss_every=1)
FAST=(--set bank_size=8 --set bank_refresh=10 --set amp=true --set tf32=true --set loss_every=50)

for mode in ref fast; do
  if [ "$mode" = ref ]; then levers=("${REF[@]}"); else levers=("${FAST[@]}"); fi
  "$PY" bench/bench_speed.py --preset standard --clip "$C25" --device cuda --iters 20 --label "25s-$mode" "${levers[@]}"
  "$PY" bench/bench_speed.py --preset hifi --clip "$C25" --device cuda --iters 10 --label "25s-$mode" "${levers[@]}"
  "$PY" bench/bench_speed.py --preset standard --clip "$C60" --device cuda --iters 5 --set max_seconds=60 --label "60s-$mode" "${levers[@]}"
  "$PY" bench/bench_speed.py --preset hifi --clip "$C60" --device cuda --iters 3 --set max_seconds=60 --label "60s-$mode" "${levers[@]}"
done
# interleaved A/B of each lever alone on standard's top scale (16 kHz x 25 s, 96 channels)
for lever in amp=true tf32=true compile=max-autotune-no-cudagraphs compile=reduce-overhead; do
  "$PY" bench/bench_ab.py --preset standard --device cuda --samples 400000 --rounds 5 --iters 10 \
      --b "$lever" --label "top-${lever//[=]/-}" || echo "A/B of $lever failed" >&2
done
# torch.compile on top of the fast levers: Inductor kernels, and CUDA graphs (reduce-overhead).
# Each scale compiles anew, so the probe's per-scale setup (counted in its projection) matters.
for mode in max-autotune-no-cudagraphs reduce-overhead; do
  "$PY" bench/bench_speed.py --preset standard --clip "$C25" --device cuda --iters 20 \
      --label "25s-fast-compile-$mode" "${FAST[@]}" --set compile=$mode \
    || echo "compile=$mode failed on this machine (see above); the eager levers stand" >&2
done

if [ "${1:-}" = "--full" ]; then
  "$PY" bench/run_bench.py --preset standard --clip "$C25" --device cuda --repeat 3 --label ref "${REF[@]}"
  "$PY" bench/run_bench.py --preset standard --clip "$C25" --device cuda --repeat 3 --label fast "${FAST[@]}"
  "$PY" bench/run_bench.py --compare bench/results/quality-standard-cuda-ref.json \
      bench/results/quality-standard-cuda-fast.json
fi
