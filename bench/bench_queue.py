"""Throughput of the training queue on a local Ray cluster: N tiny (or quick) jobs with 1 and
with 2 worker processes, as jobs per minute and the ratio; the local runner (one job at a time,
no Ray) as the baseline. Writes JSON to bench/results/.

    python bench/bench_queue.py                          # 6 tiny jobs on 3 s of the demo clip
    python bench/bench_queue.py --jobs 4 --preset quick --set iters_per_scale=40

Each configuration starts its own local cluster (ray.init(num_cpus=W)); the cluster's start-up
is timed apart from the queue run. Every job trains from scratch into a fresh folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _jobs(n: int, clip: Path, root: Path, preset: str, overrides: dict, seconds: float) -> list:
    from engine.queue import Job, new_job_id

    return [Job(id=new_job_id(), clip=str(clip), project=str(root / f"job{i}"), preset=preset,
                overrides=overrides, duration=seconds, seed=i) for i in range(n)]


def _per_job(queue) -> list[float]:
    return [round((j.finished or 0) - (j.started or 0), 2) for j in queue.read()]


def _steady(queue, workers: int) -> float | None:
    """Jobs per minute once the first `workers` jobs (which pay for starting the worker
    processes and importing torch) have finished: the rate a long queue settles at."""
    jobs = sorted(queue.read(), key=lambda j: j.started or 0)
    if len(jobs) <= workers:
        return None
    warm = max(j.finished or 0 for j in jobs[:workers])
    end = max(j.finished or 0 for j in jobs)
    later = [j for j in jobs[workers:] if (j.finished or 0) > warm]
    return round(60 * len(later) / (end - warm), 2) if end > warm else None


def run_local(n: int, clip: Path, preset: str, overrides: dict, seconds: float) -> dict:
    from engine.queue import QueueFile
    from engine.queue.runner import iter_run

    with tempfile.TemporaryDirectory() as tmp:
        queue = QueueFile(Path(tmp) / "q.json")
        queue.add(*_jobs(n, clip, Path(tmp), preset, overrides, seconds))
        t0 = time.perf_counter()
        for _ in iter_run(queue, device="cpu"):
            pass
        took = time.perf_counter() - t0
        states = queue.counts()
        per_job = _per_job(queue)
        steady = _steady(queue, 1)
    return {"backend": "local runner (no Ray)", "workers": 1, "seconds": round(took, 2),
            "jobs_per_minute_after_first": steady,
            "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "jobs_per_minute": round(60 * n / took, 2), "states": states, "per_job_s": per_job}


def run_ray(n: int, workers: int, clip: Path, preset: str, overrides: dict, seconds: float) -> dict:
    import ray

    from engine.queue import QueueFile
    from engine.queue.cluster import iter_run_cluster

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            queue = QueueFile(Path(tmp) / "q.json")
            queue.add(*_jobs(n, clip, Path(tmp), preset, overrides, seconds))
            t0 = time.perf_counter()
            for _ in iter_run_cluster(queue, "local"):
                pass
            took = time.perf_counter() - t0
            states = queue.counts()
            per_job = _per_job(queue)
            steady = _steady(queue, workers)
    finally:
        ray.shutdown()
    return {"backend": "ray local cluster", "workers": workers, "cluster_start_s": round(startup, 2),
            "seconds": round(took, 2), "jobs_per_minute": round(60 * n / took, 2),
            "jobs_per_minute_after_first": steady, "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "states": states, "per_job_s": per_job}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--seconds", type=float, default=3.0, help="section length of each job")
    ap.add_argument("--clip", default=None, help="audio file (default: the demo clip)")
    ap.add_argument("--no-local", action="store_true", help="skip the local-runner baseline")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]  # other programs' load: a 2-core machine shares its cores

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per job, in this process too
    import torch

    torch.set_num_threads(1)
    import ray

    from engine.config import parse_overrides
    from engine.resources import DEMO_CLIP

    clip = Path(args.clip) if args.clip else DEMO_CLIP
    overrides = parse_overrides(args.set)
    runs = []
    if not args.no_local:
        runs.append(run_local(args.jobs, clip, args.preset, overrides, args.seconds))
        print(json.dumps(runs[-1]), flush=True)
    for w in (1, 2):
        runs.append(run_ray(args.jobs, w, clip, args.preset, overrides, args.seconds))
        print(json.dumps(runs[-1]), flush=True)
    one, two = runs[-2], runs[-1]
    result = {
        "what": f"{args.jobs} {args.preset} jobs ({args.seconds:g} s sections, overrides "
                f"{overrides or 'none'}) through the training queue",
        "machine": {"cpus": os.cpu_count(), "load_avg_1min_at_start": round(load0, 2), "platform": platform.platform(),
                    "python": sys.version.split()[0], "torch": torch.__version__,
                    "ray": ray.__version__, "gpu": torch.cuda.is_available()},
        "runs": runs,
        "ratio_2_vs_1_workers": round(two["jobs_per_minute"] / one["jobs_per_minute"], 3),
        "ratio_2_vs_1_workers_after_first": (
            round(two["jobs_per_minute_after_first"] / one["jobs_per_minute_after_first"], 3)
            if one["jobs_per_minute_after_first"] and two["jobs_per_minute_after_first"] else None),
        "ray_1_worker_vs_local_runner": (round(one["jobs_per_minute"] / runs[0]["jobs_per_minute"], 3)
                                         if not args.no_local else None),
    }
    tag = f"queue-throughput-{'cpu' if not torch.cuda.is_available() else 'gpu'}"
    out = Path(args.out) if args.out else RESULTS / f"{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratio_2_vs_1_workers",
                                             "ratio_2_vs_1_workers_after_first",
                                             "ray_1_worker_vs_local_runner")}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
