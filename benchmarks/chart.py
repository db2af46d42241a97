"""The results chart: req/s per phase (plugin vs ceiling) and lookup latency against N, per database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def draw(report: dict[str, Any], path: Path) -> Path:
    results = report["results"]
    fig, axes = plt.subplots(2, len(results), figsize=(6.5 * len(results), 8.5), squeeze=False)
    for col, db in enumerate(results):
        ax = axes[0][col]
        phases = db["phases"]
        x = range(len(phases))
        width = 0.4
        plugin = [p["plugin"]["rps"] for p in phases]
        ceiling = [p["ceiling"]["rps"] for p in phases]
        ax.bar([i - width / 2 for i in x], plugin, width, label="plugin", color="#3b6fb6")
        ax.bar([i + width / 2 for i in x], ceiling, width, label="ceiling", color="#bbbbbb")
        for i, p in enumerate(phases):
            if p["ratio"] is not None:
                ax.annotate(
                    f"{p['ratio']:.2f}", (i - width / 2, plugin[i]), ha="center", va="bottom", fontsize=8
                )
        ticks = [
            f"member\n({p['group_members']:,})" if p["phase"] == "member" else p["phase"] for p in phases
        ]
        ax.set_xticks(list(x), ticks)
        ax.set_ylabel("req/s")
        ax.set_title(
            f"{db['database']}: req/s per phase (N={phases[0]['n'] if phases else '?'}; label = ratio)"
        )
        ax.legend()

        ax = axes[1][col]
        for phase, marker in (("lookup", "o"), ("get", "s")):
            rows = sorted((g for g in db["growth"] if g["phase"] == phase), key=lambda g: g["n"])
            if not rows:
                continue
            ns = [g["n"] for g in rows]
            ax.plot(
                ns,
                [g["plugin"]["p50_ms"] for g in rows],
                marker=marker,
                color="#3b6fb6",
                ls="--" if phase == "get" else "-",
                label=f"plugin {phase} p50",
            )
            ax.plot(
                ns,
                [g["ceiling"]["p50_ms"] for g in rows],
                marker=marker,
                color="#888888",
                ls="--" if phase == "get" else "-",
                label=f"ceiling {phase} p50",
            )
        ax.set_xscale("log")
        ax.set_xlabel("users in the tenant (N)")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{db['database']}: p50 latency against N")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"scim-plugin vs ceiling, {report['settings']['server']}; {report['settings']['load']}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":  # redraw: python -m benchmarks.chart benchmarks/results/<timestamp>.json
    import json
    import sys

    source = Path(sys.argv[1])
    print(draw(json.loads(source.read_text()), source.with_suffix(".png")))
