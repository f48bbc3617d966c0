"""Rating studies without Qt: the file, creation, blinding of the bytes, concurrency, statistics."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import stats

from fundus_viewer.core.errors import ImageLoadError
from fundus_viewer.core.study.create import collect_cases, create_study, parse_arms, prepare_image
from fundus_viewer.core.study.report import analyze_study, format_text
from fundus_viewer.core.study.stats import analyze_answers, cohen_d, icc
from fundus_viewer.core.study.store import AnswerRow, NewCase, RatingSession, StudyError, StudyFile, StudyLockedError
from tests.conftest import synthetic_fundus


def write_arm(folder: Path, prefix: str, count: int, size=(420, 600), seed=0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rgb = synthetic_fundus(*size, centre=(size[1] // 2, size[0] // 2), radius=min(size) // 2 - 10, seed=seed + i)
        cv2.imwrite(str(folder / f"{prefix}_{i:02d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture
def two_arms(tmp_path):
    # the arms differ in file size, format of the name and pixel size: none of it may reach the rater
    gan = write_arm(tmp_path / "patho-gan", "pathogan_vessels", 4, size=(512, 512))
    base = write_arm(tmp_path / "baseline", "baseline_vessels", 4, size=(400, 640), seed=10)
    return {"patho-gan": sorted(gan.iterdir()), "baseline": sorted(base.iterdir())}


def test_images_are_reencoded_to_one_size_without_metadata(two_arms, tmp_path):
    study = create_study(tmp_path / "s.fvstudy", two_arms, size=256, pair_by=r"_(\d+)$", seed=3)
    with study:
        assert len(study.case_ids()) == 8
        for case in study.case_ids():
            data = study.image_bytes(case)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            assert image.shape == (256, 256, 3)
            assert _png_chunks(data) == ["IHDR", "IDAT", "IEND"] or set(_png_chunks(data)) == {"IHDR", "IDAT", "IEND"}
            for leak in (b"patho", b"gan", b"baseline", b"vessels"):
                assert leak not in data.lower()
        codes = [study.case_code(c) for c in study.case_ids()]
        assert codes == sorted(codes) and len(set(codes)) == 8
        # pairing keys from the file stems: 4 keys, each in both arms
        keys = {}
        for row in study.case_table():
            keys.setdefault(row["pair_key"], set()).add(row["arm"])
        assert keys == {f"{i:02d}": {"patho-gan", "baseline"} for i in range(4)}
        # case numbers are shuffled: the first arm given does not get the first numbers
        first_four = {row["arm"] for row in study.case_table()[:4]}
        assert first_four == {"patho-gan", "baseline"}


def _png_chunks(data: bytes) -> list[str]:
    chunks, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        chunks.append(data[offset + 4 : offset + 8].decode())
        offset += 12 + length
    return chunks


def test_field_of_view_crop_hides_the_photo_shape():
    wide = synthetic_fundus(400, 640, centre=(320, 200), radius=190)
    square = synthetic_fundus(400, 400, centre=(200, 200), radius=190)
    a = cv2.imdecode(np.frombuffer(prepare_image(wide, 128), np.uint8), cv2.IMREAD_COLOR)
    b = cv2.imdecode(np.frombuffer(prepare_image(square, 128), np.uint8), cv2.IMREAD_COLOR)
    # after the crop both are a circle filling the square: the same dark corners, the same bright area
    assert abs((a.max(axis=2) > 40).mean() - (b.max(axis=2) > 40).mean()) < 0.03


def test_rater_orders_differ_and_are_reproducible(two_arms, tmp_path):
    with create_study(tmp_path / "a.fvstudy", two_arms, seed=7) as a:
        ann, bob = a.order("ann"), a.order("bob")
        assert sorted(ann) == sorted(bob) == a.case_ids()
        assert ann != bob
        assert a.rater_seed("ann") != a.rater_seed("bob")
        ann_codes = [a.case_code(c) for c in ann]
    with create_study(tmp_path / "b.fvstudy", two_arms, seed=7) as b:
        assert [b.case_code(c) for c in b.order("ann")] == ann_codes  # same seed, same rater: same order
    with create_study(tmp_path / "c.fvstudy", two_arms, seed=8) as c:
        assert [c.case_code(x) for x in c.order("ann")] != ann_codes


def test_answers_persist_change_and_resume(two_arms, tmp_path):
    path = tmp_path / "s.fvstudy"
    create_study(path, two_arms).close()
    with StudyFile(path) as study:
        session = RatingSession(study, "ann")
        assert session.resume_position() == 0
        session.answer(0, "rl", 4)
        session.answer(0, "rnfld", 2)
        session.answer(1, "rl", 5)
        session.answer(0, "rl", 3)  # changed: the answer is replaced, the log keeps both
    with StudyFile(path) as study:
        session = RatingSession(study, "ann")
        assert session.answers(0) == {"rl": 3, "rnfld": 2}
        assert session.resume_position() == 1
        assert session.progress() == (1, 8)
        log = study.db.execute("SELECT COUNT(*) FROM answer_log").fetchone()[0]
        assert log == 4
        with pytest.raises(StudyError, match="outside 1-5"):
            session.answer(1, "rnfld", 6)


def test_locked_study_refuses_answers(two_arms, tmp_path):
    with create_study(tmp_path / "s.fvstudy", two_arms) as study:
        study.answer("ann", study.case_ids()[0], "rl", 3)
        study.lock()
        with pytest.raises(StudyLockedError, match="locked"):
            study.answer("ann", study.case_ids()[0], "rl", 4)
        with pytest.raises(StudyLockedError):
            study.rater_id("carl")
        assert study.answers_of("ann") == {(study.case_ids()[0], "rl"): 3}


def test_bad_inputs_get_messages_and_leave_nothing(two_arms, tmp_path):
    (tmp_path / "not-a-study.fvstudy").write_bytes(b"hello")
    with pytest.raises(StudyError, match="not a study file"):
        StudyFile(tmp_path / "not-a-study.fvstudy")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StudyError, match="not a Fundus Viewer study"):
        StudyFile(other)
    with pytest.raises(StudyError, match="no such study"):
        StudyFile(tmp_path / "missing.fvstudy")
    with pytest.raises(StudyError, match="NAME=FOLDER"):
        parse_arms(["justafolder"])
    with pytest.raises(StudyError, match="not a folder"):
        parse_arms([f"x={tmp_path / 'nope'}"])
    broken = tmp_path / "broken"
    write_arm(broken, "ok", 1)
    (broken / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "never.fvstudy"
    with pytest.raises(ImageLoadError, match="bad.jpg"):
        create_study(out, {"a": sorted(broken.iterdir())})
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    create_study(tmp_path / "s.fvstudy", two_arms).close()
    with pytest.raises(StudyError, match="already exists"):
        create_study(tmp_path / "s.fvstudy", two_arms)


def test_newer_schema_is_refused(two_arms, tmp_path):
    path = tmp_path / "s.fvstudy"
    create_study(path, two_arms).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StudyError, match="newer"):
        StudyFile(path)


def test_repeated_cases_measure_consistency(two_arms, tmp_path):
    cases = collect_cases(two_arms, size=64, repeats=3, seed=1)
    assert len(cases) == 11 and sum(c.repeat_of is not None for c in cases) == 3
    for case in cases:
        if case.repeat_of is not None:
            assert case.image == cases[case.repeat_of].image and case.arm == cases[case.repeat_of].arm
    with StudyFile.create(tmp_path / "s.fvstudy", cases, seed=1) as study:
        repeats = {r["case_id"]: r["repeat_of"] for r in study.case_table() if r["repeat_of"]}
        for case in study.case_ids():
            study.answer("ann", case, "rl", 3)
            study.answer("ann", case, "rnfld", 2 if case in repeats else 4)  # disagrees with itself on RNFLD
        analysis = analyze_study(study)
    by_question = {c.question: c for c in analysis.consistency}
    assert by_question["rl"].n == 3 and by_question["rl"].exact_agreement == 1.0
    assert by_question["rnfld"].exact_agreement == 0.0 and by_question["rnfld"].mean_absolute_difference == 2.0
    # repeats count once in the arm statistics
    assert sum(s.n for s in analysis.summaries if s.question == "rl") == 8


CONCURRENT_RATER = textwrap.dedent(
    """
    import sys
    from fundus_viewer.core.study.store import StudyFile
    path, rater = sys.argv[1], sys.argv[2]
    with StudyFile(path) as study:
        for round_ in range(3):
            for case in study.order(rater):
                for key in ("rl", "rnfld"):
                    study.answer(rater, case, key, 1 + (case + round_) % 5)
    print("done")
    """
)


def test_two_raters_rate_one_file_at_once(two_arms, tmp_path):
    path = tmp_path / "s.fvstudy"
    create_study(path, two_arms).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_RATER, str(path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[1],
        )
        for name in ("ann", "bob")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    with StudyFile(path) as study:
        for name in ("ann", "bob"):
            answers = study.answers_of(name)
            assert len(answers) == 16
            assert all(score == 1 + (case + 2) % 5 for (case, _), score in answers.items())
        assert study.db.execute("SELECT COUNT(*) FROM answer_log").fetchone()[0] == 2 * 3 * 16


# -- statistics with known answers ---------------------------------------------------------------


def test_cohen_d_and_t_test_by_hand():
    a = np.array([2, 4, 4, 4, 5, 5, 7, 9], float)  # mean 5, sample variance 32/7
    b = a - 2
    d, (low, high) = cohen_d(a, b)
    assert d == pytest.approx(2 / math.sqrt(32 / 7))
    rows = [
        AnswerRow("r", i, f"{i}", arm, None, None, f"{i}.png", "rl", int(s), "t")
        for i, (arm, s) in enumerate([("a", s) for s in a] + [("b", s) for s in b])
    ]
    c = analyze_answers(rows, ["rl"], max_score=9).comparisons[0]
    t = d * math.sqrt(8 / 2)  # equal n: t = d * sqrt(n / 2)
    assert c.student_t == pytest.approx(t)
    assert c.student_p == pytest.approx(2 * stats.t.sf(t, 14))
    assert c.mean_difference == 2 and c.difference_ci95[0] < 2 < c.difference_ci95[1]
    assert low < d < high and (high - low) / 2 == pytest.approx(1.959964 * math.sqrt(2 / 8 + d * d / 32), rel=1e-5)


def test_icc_matches_shrout_and_fleiss():
    # Shrout & Fleiss (1979), Table 2: six targets, four judges; ICC(2,1) = 0.29, ICC(3,1) = 0.71
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    icc2, icc3 = icc(ratings)
    assert round(icc2, 2) == 0.29 and round(icc3, 2) == 0.71


def test_agreement_of_two_raters():
    rows = []
    for case, (x, y) in enumerate([(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (3, 3)]):
        rows += [
            AnswerRow("ann", case, "", "arm", None, None, "", "rl", x, ""),
            AnswerRow("bob", case, "", "arm", None, None, "", "rl", y, ""),
        ]
    agreement = analyze_answers(rows, ["rl"]).agreement[0]
    assert agreement.kappa == {"ann / bob": 1.0} and agreement.icc2_1 == pytest.approx(1.0) and agreement.n_cases == 6


def paper_shaped_scores() -> dict[tuple[str, str], list[int]]:
    """120 images per arm whose means are the paper's: Patho-GAN 4.19 / 3.14, baseline 3.90 / 2.05."""

    def counts(c5, c4, c3, c2, c1):
        return [5] * c5 + [4] * c4 + [3] * c3 + [2] * c2 + [1] * c1

    return {
        ("patho-gan", "rl"): counts(53, 42, 20, 5, 0),
        ("baseline", "rl"): counts(38, 42, 30, 10, 0),
        ("patho-gan", "rnfld"): counts(16, 30, 39, 25, 10),
        ("baseline", "rnfld"): counts(2, 8, 24, 46, 40),
    }


def test_reanalysis_of_a_study_shaped_like_the_papers(tmp_path):
    scores = paper_shaped_scores()

    tiny = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    cases = [
        NewCase(tiny, arm, f"{arm}-{i}.png", pair_key=str(i)) for arm in ("patho-gan", "baseline") for i in range(120)
    ]
    with StudyFile.create(tmp_path / "paper.fvstudy", cases, seed=0) as study:
        for row in study.case_table():
            index = int(row["pair_key"])
            for question in ("rl", "rnfld"):
                study.answer("ophthalmologist", row["case_id"], question, scores[row["arm"], question][index])
        analysis = analyze_study(study)
    means = {(s.arm, s.question): round(s.mean, 2) for s in analysis.summaries}
    assert means == {
        ("patho-gan", "rl"): 4.19,
        ("baseline", "rl"): 3.90,
        ("patho-gan", "rnfld"): 3.14,
        ("baseline", "rnfld"): 2.05,
    }
    for c in analysis.comparisons:
        a, b = np.array(scores[c.arm_a, c.question]), np.array(scores[c.arm_b, c.question])
        assert c.student_p == pytest.approx(stats.ttest_ind(a, b).pvalue)
        assert c.welch_p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
        assert c.mann_whitney_p == pytest.approx(stats.mannwhitneyu(a, b).pvalue)
        assert c.paired.n_pairs == 120 and c.paired.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
        assert c.paired.wilcoxon_p == pytest.approx(stats.wilcoxon(a, b).pvalue)
    by_question = {c.question: c for c in analysis.comparisons}
    # baseline sorts before patho-gan: differences are baseline - Patho-GAN, negative as in the paper
    assert by_question["rl"].arm_a == "baseline" and by_question["rl"].mean_difference < 0
    assert by_question["rl"].student_p < 0.05 and by_question["rnfld"].student_p < 1e-6
    assert "Student t" in format_text(analysis)


def test_study_command_line(two_arms, tmp_path, capsys):
    from fundus_viewer.cli.main import main

    folders = {arm: paths[0].parent for arm, paths in two_arms.items()}
    out = tmp_path / "cli.fvstudy"
    args = [
        "study",
        "create",
        str(out),
        *[f"--arm={a}={f}" for a, f in folders.items()],
        "--pair-by",
        r"_(\d+)$",
        "--repeat",
        "2",
        "--seed",
        "5",
        "--size",
        "128",
    ]
    assert main(args) == 0
    assert "10 cases (patho-gan 4, baseline 4; 2 repeated), 10 with a pairing key, seed 5" in capsys.readouterr().out
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    with StudyFile(out) as study:
        for case in study.order("ann"):
            study.answer("ann", case, "rl", 4 if study.case_table()[case - 1]["arm"] == "patho-gan" else 2)
            study.answer("ann", case, "rnfld", 3)
    assert main(["study", "status", str(out)]) == 0
    assert "ann: 10 of 10 cases complete" in capsys.readouterr().out
    assert main(["study", "analyze", str(out), "--json", "--out", str(tmp_path / "report")]) == 0
    report = json.loads(capsys.readouterr().out)
    rl = next(c for c in report["comparisons"] if c["question"] == "rl")
    assert rl["mean_difference"] == 2.0 and rl["paired"]["n_pairs"] == 4
    assert rl["arm_a"] == "patho-gan"  # the order the arms were given in
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "analysis.json",
        "answers.csv",
        "histogram-rl.png",
        "histogram-rnfld.png",
    ]
    assert main(["study", "lock", str(out)]) == 0
    with StudyFile(out) as study:
        assert study.locked
    assert main(["study", "create", str(tmp_path / "x.fvstudy"), "--arm", "nofolder"]) == 2
    assert "NAME=FOLDER" in capsys.readouterr().err
