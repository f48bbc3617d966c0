"""A demo study for the Analysis view: the bundled samples as two made-up arms, answered like the paper.

    python docs/make_study_demo.py OUT.fvstudy [REPEATS]   # then: fundus-viewer study analyze OUT.fvstudy

120 cases per arm whose scores have the paper's means (Patho-GAN 4.19 / 3.14, baseline 3.90 / 2.05),
from two raters (the second disagrees by one point now and then), pairs by case index, 10 repeats
(or REPEATS: 2 shows the caveat a kappa from too few repeats carries).
Made-up data: it shows what the screens and the statistics look like, nothing about any model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fundus_viewer.core.images import list_images, load_image  # noqa: E402
from fundus_viewer.core.study.create import prepare_image  # noqa: E402
from fundus_viewer.core.study.store import NewCase, StudyFile  # noqa: E402


def counts(c5, c4, c3, c2, c1):
    return [5] * c5 + [4] * c4 + [3] * c3 + [2] * c2 + [1] * c1


SCORES = {
    ("patho-gan", "rl"): counts(53, 42, 20, 5, 0),
    ("baseline", "rl"): counts(38, 42, 30, 10, 0),
    ("patho-gan", "rnfld"): counts(16, 30, 39, 25, 10),
    ("baseline", "rnfld"): counts(2, 8, 24, 46, 40),
}


def main(out: str, repeats: int = 10) -> None:
    rng = np.random.default_rng(0)
    images = [prepare_image(load_image(p).rgb, 512) for p in list_images(ROOT / "resources" / "samples")]
    cases = [
        NewCase(images[i % len(images)], arm, f"{arm}-{i:03d}.png", pair_key=f"{i:03d}")
        for arm in ("patho-gan", "baseline")
        for i in range(120)
    ]
    cases += [
        NewCase(c.image, c.arm, c.source, c.pair_key, repeat_of=int(i))
        for i, c in ((int(i), cases[int(i)]) for i in rng.choice(240, repeats, replace=False))
    ]
    with StudyFile.create(out, cases, seed=0, title="Demo study (made-up answers)") as study:
        rows = {r["case_id"]: r for r in study.case_table()}
        for rater, noise in (("Dr A", 0.0), ("Dr B", 0.25)):
            for case in study.order(rater):
                row = rows[row_id] if (row_id := rows[case]["repeat_of"]) else rows[case]
                for question in ("rl", "rnfld"):
                    score = SCORES[row["arm"], question][int(row["pair_key"])]
                    if rng.random() < noise:
                        score = int(np.clip(score + rng.choice([-1, 1]), 1, 5))
                    study.answer(rater, case, question, score)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(n) for n in sys.argv[2:3]))
