#!/usr/bin/env bash
# The GPU measurements in one command, for a machine with CUDA:
#   bash bench/gpu.sh            every stage below but `full`
#   bash bench/gpu.sh STAGE...   only those stages (each fits a 10-minute device call):
#     speed     speed probes: standard and hifi on a 25 s clip, peak memory for 60 s, each with
#               the reference trainer (whole scales, no levers) and with the fast levers (the
#               presets' window training and bank, bf16, TF32, loss read-back)
#     ab        interleaved A/B of each lever alone on standard's top scale (16 kHz x 25 s):
#               window training against whole-scale steps, then bf16, TF32, the lazy gradient
#               penalty (gp_every=4; measured on a CPU and not adopted) and torch.compile on top of the
#               preset (windows on)
#     compile   standard 25 s with the fast levers plus torch.compile (Inductor; CUDA graphs)
#     graph     the whole training step as one CUDA graph (cuda_graph=true) against the eager
#               step, interleaved, on the coarsest, a middle and the top scale, each with a check
#               that both learn the same (--agree), then standard on 25 s with it; time-boxed
#               (about 4 min; `graph quality` fits one call of a lease)
#     lease     what fits one call of a 15-minute device lease (LEASE_SECONDS, default 480, the
#               box of the whole call for `graph`, `lease` and `quality` together), most
#               useful first, each command time-boxed: standard as shipped, the stacked levers,
#               each lever on the top and the coarsest scale (with a profile of the step), the
#               reference trainer, hifi; a probe cut off by its box leaves its per-scale lines
#     quality   what fits one call of a lease for quality (LEASE_SECONDS, default 480): standard at a
#               reduced schedule (QUALITY_ITERS per scale, default 100) on 10 s: the precision
#               levers (bf16 and TF32 on the shipped preset) and the preset as shipped, seeds
#               interleaved so a cut run still leaves pairs, then the reference trainer
#               (QUALITY_RUNS="levers:0 preset:0 ..." picks runs); merged per arm; the levers
#               compared with the preset, the preset and the levers with the reference
#               (lever checks at the reduced schedule, not what the full preset sounds like);
#               QUALITY_JOBS=N runs N at once on the one GPU, QUALITY_KEEP=DIR keeps the projects;
#               runs with a result in bench/results are skipped, so a lease goes on from the last
#     full      trains standard for real, 3 seeds each way, and compares the quality metrics
#               of the fast levers (windows included) against the reference trainer's
#               run-to-run spread (the reference takes hours; the windowed preset minutes)
# Needs bench/clips/ (python bench/make_clips.py, on a machine that reaches Debian's archive).
# Results: bench/results/speed-*-cuda-*.json, ab-*-cuda-*.json and quality-*-cuda-*.json.
# SMOKE=1 runs every command with the tiny preset on the CPU in seconds (checks the script;
# results in a temporary folder, or in SMOKE_OUTDIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY=${PY:-.venv/bin/python}; else PY=${PY:-python3}; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # runs from the checkout without installing it

if [ "${SMOKE:-0}" = 1 ]; then
  DEV=cpu STD=tiny HIFI=tiny TOP=3000 MID=2000 SMALL=1000 OUTDIR=${SMOKE_OUTDIR:-$(mktemp -d)}
  WIN=(--set window=2048 --set window_batch=1)  # tiny has no windows of its own
  ABWIN=(--b window=2048 --b window_batch=1)
  C25=engine/resources/demo-war-of-freedom-10s.wav C60=$C25 QSECS=3
  it() { echo --iters 1 --warmup 1; }
  ABI=(--rounds 1 --iters 1)
  COMPILE_MODES=()  # Inductor needs minutes per scale on a CPU
else
  DEV=cuda STD=standard HIFI=hifi TOP=400000 MID=50000 SMALL=8000 OUTDIR=bench/results
  WIN=()  # the presets' own windows
  ABWIN=(--b window=16384)
  C25=bench/clips/war-of-freedom-25s.wav C60=bench/clips/war-of-freedom-60s.wav QSECS=10
  it() { echo --iters "$1"; }
  ABI=(--rounds 5 --iters 10)
  COMPILE_MODES=(max-autotune-no-cudagraphs reduce-overhead)
  [ -f "$C25" ] || "$PY" bench/make_clips.py
fi
REF=(--set bank_size=0 --set amp=false --set tf32=false --set loss_every=1 --set window=0
     --set gp_every=1)
FAST=(--set bank_size=8 --set bank_refresh=10 --set amp=true --set tf32=true --set loss_every=50
      "${WIN[@]}")
# RUN (empty but in `lease`) prefixes each command: a time limit, or `skip`; the result file
# comes last on every command line, so `skip` can name it
speed() {  # speed LABEL PRESET ARGS...
  local label=$1 preset=$2
  shift 2
  ${RUN:-} "$PY" bench/bench_speed.py --preset "$preset" --device "$DEV" --label "$label" "$@" \
      --out "$OUTDIR/speed-$preset-$DEV-$label.json"
}
ab() {  # ab SAMPLES LABEL ARGS...: an interleaved A/B on one scale of standard
  local n=$1 label=$2
  shift 2
  ${RUN:-} "$PY" bench/bench_ab.py --preset "$STD" --device "$DEV" --samples "$n" "${ABI[@]}" \
      "$@" --label "$label" --out "$OUTDIR/ab-$STD-$DEV-$label.json"
}
quality() {  # quality LABEL ARGS...: standard on 10 s of the 25 s clip, 4 variations
  local label=$1
  shift
  ${RUN:-} "$PY" bench/run_bench.py --preset "$STD" --clip "$C25" --start 2 --seconds "$QSECS" \
      --device "$DEV" --count 4 --no-baselines "$@" --label "$label" \
      --out "$OUTDIR/quality-$STD-$DEV-$label.json"
}
skip() { echo "lease: skipped ${*: -1} (time box spent)" >&2; }
T0=$SECONDS
boxed() {  # boxed SECONDS speed|ab|quality ARGS...: at most SECONDS, less if the box is spent
  local max=$1 left=$(( ${LEASE_SECONDS:-480} - (SECONDS - T0) ))
  shift
  if [ "$left" -lt 20 ]; then RUN=skip "$@"; return 0; fi
  [ "$max" -gt "$left" ] && max=$left
  RUN="timeout -k 5 $max" "$@" || echo "lease: $1 $2 stopped after ${max}s or failed" >&2
}

stage_speed() {
  for mode in ref fast; do
    if [ "$mode" = ref ]; then levers=("${REF[@]}"); else levers=("${FAST[@]}"); fi
    speed "25s-$mode" "$STD" --clip "$C25" $(it 20) "${levers[@]}"
    speed "25s-$mode" "$HIFI" --clip "$C25" $(it 10) "${levers[@]}"
    speed "60s-$mode" "$STD" --clip "$C60" $(it 5) --set max_seconds=60 "${levers[@]}"
    speed "60s-$mode" "$HIFI" --clip "$C60" $(it 3) --set max_seconds=60 "${levers[@]}"
  done
}

stage_ab() {
  # window training alone: whole-scale steps (A) against the preset's windows (B)
  ab "$TOP" top-window --a window=0 "${ABWIN[@]}" \
    || echo "A/B of window training failed on this machine (see above)" >&2
  for lever in amp=true tf32=true gp_every=4 compile=max-autotune-no-cudagraphs \
      compile=reduce-overhead; do
    if [ "${SMOKE:-0}" = 1 ] && [[ $lever == compile* ]]; then continue; fi
    ab "$TOP" "top-${lever//=/-}" --b "$lever" \
      || echo "A/B of $lever failed on this machine (see above)" >&2
  done
}

stage_compile() {
  # each scale compiles anew, so the probe's per-scale setup (counted in its projection) matters
  for mode in "${COMPILE_MODES[@]}"; do
    speed "25s-fast-compile-$mode" "$STD" --clip "$C25" $(it 20) "${FAST[@]}" \
        --set compile="$mode" \
      || echo "compile=$mode failed on this machine (see above); the eager levers stand" >&2
  done
}

stage_graph() {
  # the coarse scales were host-bound on the H200 (47 % busy: ~1500 kernel launches an
  # iteration), the windowed top scale was not (96 %); a graph can only win where the host waits
  boxed 70 ab "$SMALL" small-graph --b cuda_graph=true --agree 20 --profile 20
  boxed 60 ab "$MID" mid-graph --b cuda_graph=true --agree 10
  boxed 60 ab "$TOP" top-graph --b cuda_graph=true --agree 10
  # --warmup 5: the capture (after graph_warmup=3 eager iterations) falls in each scale's setup
  boxed 150 speed 25s-graph "$STD" --clip "$C25" $(it 20) --warmup 5 --set cuda_graph=true
}

stage_lease() {
  boxed 110 speed 25s-preset "$STD" --clip "$C25" $(it 20)
  boxed 60 ab "$TOP" top-stacked --b amp=true --b tf32=true --b gp_every=4
  boxed 60 ab "$SMALL" small-stacked --b amp=true --b tf32=true --b gp_every=4
  boxed 60 ab "$SMALL" small-profile --b progress_every=3 --profile 20
  for lever in amp=true tf32=true gp_every=4; do
    boxed 60 ab "$TOP" "top-${lever//=/-}" --b "$lever"
    boxed 60 ab "$SMALL" "small-${lever//=/-}" --b "$lever"
  done
  boxed 70 ab "$TOP" top-window --a window=0 "${ABWIN[@]}"
  boxed 120 speed 25s-ref "$STD" --clip "$C25" $(it 10) "${REF[@]}"
  boxed 100 speed 25s-preset "$HIFI" --clip "$C25" $(it 10)
}

stage_quality() {
  local n=${QUALITY_ITERS:-100} jobs=${QUALITY_JOBS:-1} arm seed cap pair a b
  local -a files keep=()
  [ "${SMOKE:-0}" = 1 ] && n=2
  # QUALITY_JOBS runs share the GPU at once, each with its share of the CPU threads; their
  # training times are then contended, not speed figures. On the H200 four at once kept it
  # 96-100 % busy, slowed the reference's whole-scale steps 3-4 x and finished two runs in 500 s,
  # as many as one at a time fits in that box (a reference and a windowed run): no gain measured
  if [ "$jobs" -gt 1 ] && [ -z "${OMP_NUM_THREADS:-}" ]; then
    export OMP_NUM_THREADS=$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))
  fi
  # QUALITY_KEEP=DIR keeps the trained projects there (to render takes for listening)
  [ -n "${QUALITY_KEEP:-}" ] && keep=(--work "$QUALITY_KEEP" --keep-projects)
  # the precision levers and the shipped preset they sit on first, their seeds in turn (each run
  # about 2 min: three or four fit one lease, and the pair isolates bf16 + TF32), then the reference
  # trainer (about 4 min a run: whole scales), which the preset's windows are held against.
  # A run whose result is already in $OUTDIR (a committed file from an earlier lease) is not
  # trained again, so the next lease goes on where the last one stopped (QUALITY_FORCE=1 redoes it)
  local runs="levers:0 preset:0 levers:1 preset:1 levers:2 preset:2 ref:0 ref:1 ref:2" done_file
  for run in ${QUALITY_RUNS:-$runs}; do
    arm=${run%:*} seed=${run#*:}
    done_file=quality-$STD-$DEV-q$n-$arm-seed$seed.json
    if [ -e "$OUTDIR/$done_file" ] && [ "${QUALITY_FORCE:-0}" != 1 ]; then
      echo "quality: $arm seed $seed is already measured ($done_file)" >&2
      continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    # a run alone on the H200, 10 s at 100 iterations: the reference about 4 min (its first 14
    # scales took 143 s on 2026-12-04; whole scales of up to 160 000 samples), the windowed
    # arms about 2 (by the step times of the first lease)
    cap=150
    [ "$arm" = ref ] && cap=300
    boxed $(( cap * jobs )) quality "q$n-$arm-seed$seed" --seed "$seed" \
        --set iters_per_scale="$n" "${keep[@]}" $(arm_levers "$arm") &
  done
  wait
  for arm in ref levers preset; do
    files=("$OUTDIR/quality-$STD-$DEV-q$n-$arm"-seed*.json)
    [ -e "${files[0]}" ] || continue
    "$PY" bench/run_bench.py --merge "$OUTDIR/quality-$STD-$DEV-q$n-$arm.json" "${files[@]}"
  done
  # bf16 + TF32 alone (against the preset they sit on), the preset's windows at 96 channels
  # (against the reference trainer), and the two stacked (against the reference)
  for pair in preset:levers ref:preset ref:levers; do
    a=$OUTDIR/quality-$STD-$DEV-q$n-${pair%:*}.json b=$OUTDIR/quality-$STD-$DEV-q$n-${pair#*:}.json
    [ -e "$a" ] && [ -e "$b" ] || continue
    echo "== quality: ${pair#*:} against ${pair%:*}" >&2
    "$PY" bench/run_bench.py --compare "$a" "$b" \
      || echo "VERDICT (${pair#*:} against ${pair%:*}): outside its spread on some measure" >&2
  done
}
arm_levers() {  # the --set flags of an arm of `quality`
  case $1 in
    ref) echo "${REF[@]}" ;;
    levers) echo --set amp=true --set tf32=true "${WIN[@]}" ;;
    preset) echo "${WIN[@]}" ;;
  esac
}

stage_full() {
  local n=3
  [ "${SMOKE:-0}" = 1 ] && n=2
  "$PY" bench/run_bench.py --preset "$STD" --clip "$C25" --device "$DEV" --repeat $n --label ref \
      --out "$OUTDIR/quality-$STD-$DEV-ref.json" "${REF[@]}"
  "$PY" bench/run_bench.py --preset "$STD" --clip "$C25" --device "$DEV" --repeat $n --label fast \
      --out "$OUTDIR/quality-$STD-$DEV-fast.json" "${FAST[@]}"
  "$PY" bench/run_bench.py --compare "$OUTDIR/quality-$STD-$DEV-ref.json" \
      "$OUTDIR/quality-$STD-$DEV-fast.json" \
    || echo "VERDICT: the fast levers leave the reference's spread on some metric (above)" >&2
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(speed ab compile)
for stage in "${stages[@]}"; do
  case $stage in
    speed | ab | compile | graph | lease | quality | full) echo "== $stage" >&2; "stage_$stage" ;;
    --full) echo "== full" >&2; stage_full ;;  # the older spelling
    *) echo "unknown stage '$stage' (speed, ab, compile, graph, lease, quality, full)" >&2; exit 2 ;;
  esac
done
echo "results in $OUTDIR" >&2
