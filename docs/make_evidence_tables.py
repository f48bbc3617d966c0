"""Rewrite the README's evidence tables from the measured JSON (between the marker comments).

python docs/make_evidence_tables.py   # reads docs/model-notes/classifier-evidence.json and classifier-sanity.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["accuracy", "pointing-game", "rank-accuracy", "top-k", "auc", "deletion", "insertion"]


def metric_tables(evidence: dict) -> str:
    ev = evidence["metrics"]["disc box"]
    maps = list(ev["accuracy"]["methods"])
    head = (
        "| {} | heat in box | pointing game | rank accuracy | top-2 % | AUC | deletion (lower) | insertion (higher) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    rows = [head.format("map (n)")]
    for m in maps:
        rows.append(
            f"| {m} ({ev['accuracy']['methods'][m]['n']}) | "
            + " | ".join(
                "-" if ev[k]["methods"][m]["mean"] is None else f"{ev[k]['methods'][m]['mean']:.3f}" for k in METRICS
            )
            + " |"
        )
    rows += [
        "",
        "Ours (the RL map) against each, paired over the photos both scored, Wilcoxon signed-rank p:",
        "",
        head.format("RL map minus"),
    ]
    for m in maps[1:]:
        cells = [
            (lambda t: "-" if not t else f"{t['mean_difference']:+.3f} (p {t['wilcoxon_p']:.2g})")(
                ev[k]["paired"].get(m)
            )
            for k in METRICS
        ]
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def sanity_table(sanity: dict) -> str:
    steps = sanity["steps"]
    # "network" holds the bare parameters of the AlexNet's own: the cup/disc term's scale and offset in the logit
    names = ["trained"] + [
        "cup/disc term"
        if s == "network"
        else s.split(" .. ")[0].replace("network.", "").replace("features.", "").replace("classifier.", "")
        for s in steps[1:]
    ]
    rows = ["| map | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for m, r in sanity["methods"].items():
        rows.append(f"| {m} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in r["spearman_mean"]) + " |")
    return "\n".join(rows)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    evidence = json.loads((ROOT / "docs/model-notes/classifier-evidence.json").read_text())
    sanity = json.loads((ROOT / "docs/model-notes/classifier-sanity.json").read_text())
    for marker, table in (("evidence-metrics", metric_tables(evidence)), ("sanity", sanity_table(sanity))):
        text = re.sub(
            rf"(<!-- {marker} -->\n).*?(\n<!-- /{marker} -->)",
            lambda m, table=table: m.group(1) + table + m.group(2),
            text,
            flags=re.S,
        )
    readme.write_text(text)
    print(f"rewrote the tables in {readme}")


if __name__ == "__main__":
    main()
