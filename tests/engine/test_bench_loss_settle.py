"""bench/loss_settle.py: where a project's losses settle, the evidence for or against stopping a
scale early (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path


def test_the_report_finds_where_the_reconstruction_stops_moving(tmp_path: Path, bench_script) -> None:
    # scale 0: the reconstruction falls until iteration 60, then stays within 2 % of 1.0; each
    # read-back is logged twice, as the trainer's progress events repeat the last mean
    rec = {20: 2.0, 40: 1.5, 60: 1.01, 80: 0.99, 100: 1.0}
    critic = {20: -0.1, 40: -0.2, 60: -0.3, 80: -0.4, 100: -0.5}
    lines = []
    for it in rec:
        for repeat in (0, 5):
            lines.append(json.dumps({"scale": 0, "iteration": it + repeat, "iterations": 105,
                                     "losses": {"rec": rec[it], "d/total": critic[it]}}))
    (tmp_path / "losses.jsonl").write_text("\n".join(lines) + "\n")
    [report] = bench_script("loss_settle").settle_report(tmp_path / "losses.jsonl", 0.05)
    assert report["loss_points"] == 5  # repeats dropped
    assert report["rec_settled_at"] == 60 and report["iterations"] == 105
    assert report["critic_at_start_third_twothirds_end"][0] == -0.1
    assert report["critic_at_start_third_twothirds_end"][-1] == -0.5
