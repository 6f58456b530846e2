#!/usr/bin/env bash
# One call of the device tool for a short GPU lease, around bench/gpu.sh:
#   bash bench/gpu_lease.sh [STAGE...]        (default: quality)
# - installs the wheels the device's image lacks from .whl/ (bench/README, "On the lent H200"),
# - runs `bash bench/gpu.sh STAGE...` with the trained projects kept (QUALITY_KEEP),
# - renders one take (seed 100, 10 s, 16-bit) of each kept seed-0 project for listening,
# - and packs the result files this call wrote and the takes into $OUT/results.tgz, every 20 s
#   while it runs and once at the end, so a call cut by the device's limit still brings back what
#   finished;
#   `nvidia-smi` is read every 15 s into the same pack (utilisation and memory).
# The device returns at most 8 files: everything goes in the one tar, the log beside it.
# SMOKE=1 (with OUT set) runs it on the CPU with gpu.sh's smoke settings (tests/engine).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the device tool brings back}"
if [ "${SMOKE:-0}" != 1 ] && compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_lease: the wheels in .whl did not install" >&2; exit 3; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
export PYTHONUNBUFFERED=1
LISTEN=$(mktemp -d)
export QUALITY_KEEP=${QUALITY_KEEP:-$(mktemp -d)}
DEV=cuda RESULTS=bench/results
[ "${SMOKE:-0}" = 1 ] && DEV=cpu RESULTS=${SMOKE_OUTDIR:-}  # gpu.sh's folder for a smoke run
START=$LISTEN/.started
touch "$START"
pack() {  # the files gpu.sh wrote since this call started (not the committed ones), the takes
  { [ -n "$RESULTS" ] && find "$RESULTS" -maxdepth 1 -type f -newer "$START" -print0; } \
    | tar czf "$OUT/results.tmp" --null -T - -C "$LISTEN" . 2>/dev/null \
    && mv "$OUT/results.tmp" "$OUT/results.tgz"
}
(while sleep 20; do pack; done) &
PACKER=$!
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$LISTEN/gpu.txt" 2>&1
  (while sleep 15; do
     nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
   done) > "$LISTEN/gpu-utilisation.txt" 2>&1 &
  WATCH=$!
fi
"$PY" -c "import torch; print(torch.__version__, torch.version.cuda)" >> "$LISTEN/gpu.txt" 2>&1

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(quality)
bash bench/gpu.sh "${stages[@]}" 2>&1 | tee "$OUT/log.txt"
status=${PIPESTATUS[0]}
[ -n "${WATCH:-}" ] && kill "$WATCH" 2>/dev/null

for project in "$QUALITY_KEEP"/*seed0; do
  [ -d "$project" ] || continue
  timeout 60 "$PY" -m engine.cli generate --project "$project" --count 1 --seed 100 \
      --seconds 10 --bits 16 --device "$DEV" --out "$LISTEN/takes/$(basename "$project")" \
      >> "$LISTEN/generate.txt" 2>&1 \
    || echo "gpu_lease: no take from $(basename "$project")" >&2
done
kill "$PACKER" 2>/dev/null
wait "$PACKER" 2>/dev/null
pack
echo "gpu_lease: gpu.sh exited $status; packed into $OUT/results.tgz" >&2
exit "$status"
