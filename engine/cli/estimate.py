"""`songwriter-cli estimate`: what each preset costs on this computer, before training.

The same measurement and cost model as the app's Train tab (engine.training.cost): a few
seconds of real training steps of every network shape the presets use, then a per-scale
sum for a section of the given length.
"""

from __future__ import annotations

import argparse
import json

from engine.config import PRESETS, get_preset


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "estimate", help="measure this computer and estimate each preset's training time",
        description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0,
                   help="length of the section to train on (default 10 s)")
    p.add_argument("--preset", action="append", default=None,
                   help="a preset to estimate (repeatable; default: quick, thorough, studio, standard, hifi)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--json", action="store_true", help="print the estimates as JSON")
    p.set_defaults(func=cmd_estimate)


def cmd_estimate(args: argparse.Namespace) -> int:
    from engine.device import device_label, resolve_device
    from engine.training.cost import estimate_seconds, format_duration, probe

    names = args.preset or [n for n in ("quick", "thorough", "studio", "standard", "hifi") if n in PRESETS]
    configs = {n: get_preset(n) for n in names}  # ConfigError (exit 2) for an unknown name
    device = resolve_device(None if args.device == "auto" else args.device)
    fits = probe(device, presets=configs)["fits"]
    rows = []
    for name, cfg in configs.items():
        secs = estimate_seconds(cfg, args.seconds, fits)
        rows.append({"preset": name, "section_seconds": min(args.seconds, cfg.max_seconds),
                     "estimate_seconds": round(secs, 1), "estimate": format_duration(secs)})
    if args.json:
        print(json.dumps({"device": device_label(device), "estimates": rows}, indent=2))
        return 0
    print(f"Estimated training time on {device_label(device)} (measured just now; slower while "
          "other programs run):")
    for r in rows:
        print(f"  {r['preset']:<9} {r['estimate']:>16}  for {r['section_seconds']:.1f} s")
    return 0
