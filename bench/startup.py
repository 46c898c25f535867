"""Start-up time of the `kam` command: what a user waits for before anything happens.

    python bench/startup.py [--runs 9] [--json]

Each run is a fresh process through the `kam` entry point (pyproject.toml: `kam = "cli.main:run"`, the script
beside this Python). Timed: `kam --help`, and `kam accounts --json` over the 16 sample accounts (loaded into a
throw-away KAM_HOME with their tiers reviewed; no index is needed, so nothing is embedded), beside the raw cost of
`python -c pass` in the same run. Reported per command: median and max wall time, median CPU time (user + sys of
the child; on a busy machine wall time grows, CPU time much less). Goals: `kam --help` < 0.5 s and
`kam accounts --json` < 1.5 s (median wall).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOALS = {"kam --help": 0.5, "kam accounts --json": 1.5}


def _kam() -> list[str]:
    script = Path(sys.executable).parent / "kam"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def _sample_home(home: Path) -> None:
    """The sample accounts and people, with one tier review, straight into the store (no index, no embedding)."""
    from knowledge.importers.profiles import ingest_dir
    from knowledge.settings import Settings
    from knowledge.store import Store
    from skills.tiering.config import load_config
    from skills.tiering.history import review

    settings = Settings(kam_home=home)
    store = Store(settings)
    ingest_dir(store, ROOT / "examples" / "accounts")
    review(store, load_config(), by="bench")
    store.engine.dispose()


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run; the command must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="kam-startup-") as tmp:
        home = Path(tmp) / "kam"
        _sample_home(home)
        env = {**os.environ, "KAM_HOME": str(home)}
        for key in ("DATABASE_URL", "CHROMA_HOST", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "OPENAI_API_KEY"):
            env.pop(key, None)
        commands = {"python -c pass": [sys.executable, "-c", "pass"], "kam --help": [*_kam(), "--help"],
                    "kam accounts --json": [*_kam(), "accounts", "--json"]}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for cmd in commands.values():
            _time(cmd, env)  # one warm-up: the OS file cache, .pyc files
        for _ in range(runs):  # interleaved, so that a burst of load on the machine hits every command alike
            for name, cmd in commands.items():
                samples[name].append(_time(cmd, env))
    out = {}
    for name, values in samples.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        out[name] = {"median_s": round(statistics.median(walls), 3), "max_s": round(max(walls), 3),
                     "cpu_median_s": round(statistics.median(cpus), 3), "runs": runs}
        if name in GOALS:
            out[name]["goal_s"] = GOALS[name]
            out[name]["met"] = out[name]["median_s"] < GOALS[name]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"| command | median wall (s) | max wall (s) | median CPU (s) | goal | met |  ({args.runs} runs, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print("|---|---|---|---|---|---|")
    for name, r in result.items():
        goal = f"< {r['goal_s']} s" if "goal_s" in r else "-"
        met = ("yes" if r["met"] else "no") if "met" in r else "-"
        print(f"| `{name}` | {r['median_s']:.3f} | {r['max_s']:.3f} | {r['cpu_median_s']:.3f} | {goal} | {met} |")


if __name__ == "__main__":
    main()
