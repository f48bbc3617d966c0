"""The real-or-synthetic task: a made-up study whose answers are known, analysed by hand beside it."""

from __future__ import annotations

import csv
from statistics import NormalDist

import pytest
from scipy.stats import beta

from fundus_viewer.cli.main import main
from fundus_viewer.core.study.create import create_study
from fundus_viewer.core.study.discrimination import ALL_ARMS
from fundus_viewer.core.study.mrmc import write_mrmc
from fundus_viewer.core.study.questions import CALL, CONFIDENCE, synthetic_rating
from fundus_viewer.core.study.report import analyze_study, format_text
from fundus_viewer.core.study.store import StudyError, StudyFile
from tests.test_study import write_arm

SIZE = (200, 240)


@pytest.fixture
def arms(tmp_path):
    return {
        "real": sorted(write_arm(tmp_path / "real", "photo", 10, size=SIZE).iterdir()),
        "patho-gan": sorted(write_arm(tmp_path / "gan", "gan", 10, size=SIZE, seed=50).iterdir()),
    }


def answer_known(study, rater, called_synthetic: dict[str, int], confidence: int = 3):
    """``called_synthetic[arm]`` of the arm's first-showing cases are called synthetic, the rest real."""
    seen = {arm: 0 for arm in called_synthetic}
    for case in study.case_table():
        if case["repeat_of"] is not None or case["arm"] not in called_synthetic:
            continue
        synthetic = seen[case["arm"]] < called_synthetic[case["arm"]]
        seen[case["arm"]] += 1
        study.answer(rater, case["case_id"], CALL.key, 2 if synthetic else 1)
        study.answer(rater, case["case_id"], CONFIDENCE.key, confidence)


def cp_interval(k, n):
    """Clopper-Pearson by its definition: beta quantiles."""
    return beta.ppf(0.025, k, n - k + 1), beta.ppf(0.975, k + 1, n - k)


def test_accuracy_ci_binomial_test_and_d_prime_match_the_hand_computed_figures(tmp_path, arms):
    calibration = write_arm(tmp_path / "calibration", "cal", 1, size=SIZE, seed=90)
    (calibration / "reference.csv").write_text("file,call\ncal_00.png,synthetic\n")  # by the anchor's word
    with create_study(
        tmp_path / "s.fvstudy", arms, size=48, seed=3, task="real-or-synthetic", repeats=2, calibration=calibration
    ) as study:
        assert [q.key for q in study.questions] == ["call", "confidence"] and study.task == "real-or-synthetic"
        assert study.reference(study.calibration_ids()[0]) == {"call": 2}
        answer_known(study, "ann", {"real": 3, "patho-gan": 8})  # 7 + 8 of 20 right
        answer_known(study, "bob", {"real": 0, "patho-gan": 0})  # calls everything real: chance
        for case in study.case_table():  # repeats and calibration answered against the grain: never counted
            if case["repeat_of"] is not None or case["arm"] == "calibration":
                study.answer("ann", case["case_id"], CALL.key, 1 if case["arm"] == "patho-gan" else 2)
        analysis = analyze_study(study)
    assert "call" not in analysis.questions and "confidence" in analysis.questions
    accuracy = {(a.rater, a.arm): a for a in analysis.discrimination.accuracy}
    ann = accuracy["ann", ALL_ARMS]
    assert (ann.correct, ann.n, ann.accuracy) == (15, 20, 0.75)
    assert ann.ci95 == pytest.approx(cp_interval(15, 20))
    assert ann.p_vs_chance == pytest.approx(
        2 * (15504 + 4845 + 1140 + 190 + 20 + 1) / 2**20
    )  # 2 P(X >= 15), X ~ B(20, 1/2)
    assert (accuracy["ann", "real"].correct, accuracy["ann", "patho-gan"].correct) == (7, 8)
    assert (accuracy["bob", ALL_ARMS].accuracy, accuracy["bob", ALL_ARMS].p_vs_chance) == (0.5, pytest.approx(1.0))
    [ann_d] = [s for s in analysis.discrimination.sensitivity if s.rater == "ann"]
    z = NormalDist().inv_cdf
    assert ann_d.d_prime == pytest.approx(z(8.5 / 11) - z(3.5 / 11))  # log-linear correction
    assert ann_d.criterion == pytest.approx(-(z(8.5 / 11) + z(3.5 / 11)) / 2)
    # all "certain": ratings 6 (synthetic) or 1 (real); P(syn > real) = .8 x .7, ties (.8 x .3 + .2 x .7) count half
    assert ann_d.auc == pytest.approx(0.56 + 0.38 / 2)
    [bob_d] = [s for s in analysis.discrimination.sensitivity if s.rater == "bob"]
    assert (bob_d.d_prime, bob_d.auc) == (pytest.approx(0.0), 0.5)
    text = format_text(analysis)
    assert "real or synthetic" in text and "75.0%" in text


def test_the_rating_scale_orders_every_call_and_confidence():
    assert [synthetic_rating(1, c) for c in (3, 2, 1)] + [synthetic_rating(2, c) for c in (1, 2, 3)] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert (synthetic_rating(1, None), synthetic_rating(2, None)) == (3, 4)  # no confidence: the least sure, same scale


def test_mrmc_export_reads_back_with_truth_and_the_real_photos_under_every_modality(tmp_path, arms):
    arms["baseline"] = sorted(write_arm(tmp_path / "base", "base", 4, size=SIZE, seed=70).iterdir())
    with create_study(tmp_path / "s.fvstudy", arms, size=48, task="real-or-synthetic") as study:
        answer_known(study, "ann", {"real": 2, "patho-gan": 6, "baseline": 1}, confidence=2)
        written = write_mrmc(study, tmp_path / "out")
        arm_of = {c["case_id"]: c["arm"] for c in study.case_table()}
    assert [p.name for p in written] == [
        "mrmc-real-or-synthetic.csv",
        "mrmc-real-or-synthetic-patho-gan.imrmc",
        "mrmc-real-or-synthetic-baseline.imrmc",
    ]
    with open(written[0], newline="") as stream:
        rows = list(csv.DictReader(stream))
    truth = {r["caseID"]: int(r["score"]) for r in rows if r["readerID"] == "truth"}
    assert len(truth) == 24 and sum(truth.values()) == 14
    readings = [r for r in rows if r["readerID"] != "truth"]
    assert {m: sum(r["modalityID"] == m for r in readings) for m in ("patho-gan", "baseline")} == {
        "patho-gan": 20,
        "baseline": 14,
    }
    assert {r["score"] for r in readings} <= {"2", "5"}  # "fairly sure" either way
    for path, arm, n_synthetic in (
        (written[1], "patho-gan", 10),
        (written[2], "baseline", 4),
    ):  # one modality each: RJafroc reads it
        lines = path.read_text().splitlines()
        header = dict(
            line.split(": ")
            for line in lines[: lines.index("BEGIN DATA:")]
            if line.startswith(("NR:", "N0:", "N1:", "NM:"))
        )
        assert header == {"NR": "1", "N0": "10", "N1": str(n_synthetic), "NM": "1"}
        data = [line.split(",") for line in lines[lines.index("BEGIN DATA:") + 1 :]]
        truth_rows = {int(c): int(s) for r, c, m, s in data if r == "-1"}
        assert all(m == "0" for r, c, m, s in data if r == "-1")
        assert truth_rows == {case: int(a != "real") for case, a in arm_of.items() if a in ("real", arm)}
        assert sum(1 for r, *_ in data if r != "-1") == 10 + n_synthetic


def test_score_studies_export_one_table_per_question_paired_by_key(tmp_path):
    gan = write_arm(tmp_path / "gan", "map", 3, size=SIZE)
    base = write_arm(tmp_path / "base", "map", 3, size=SIZE, seed=20)
    with create_study(
        tmp_path / "s.fvstudy",
        {"patho-gan": sorted(gan.iterdir()), "baseline": sorted(base.iterdir())},
        size=48,
        pair_by=r"(\d+)",
    ) as study:
        for case in study.case_ids():
            for key in ("rl", "rnfld"):
                study.answer("ann", case, key, 3)
        written = write_mrmc(study, tmp_path / "out")
    assert [p.name for p in written] == ["mrmc-rl.csv", "mrmc-rnfld.csv"]
    with open(written[0], newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["readerID", "caseID", "modalityID", "score"]
    assert sorted({r["caseID"] for r in rows}) == ["pair-00", "pair-01", "pair-02"]  # one case read in both modalities
    assert len(rows) == 6 and not any(r["readerID"] == "truth" for r in rows)


def test_the_cli_makes_and_exports_a_real_or_synthetic_study(tmp_path, arms, capsys):
    out = tmp_path / "s.fvstudy"
    assert (
        main(
            [
                "study",
                "create",
                str(out),
                "--arm",
                f"gan={arms['patho-gan'][0].parent}",
                "--arm",
                f"photos={arms['real'][0].parent}",
                "--task",
                "real-or-synthetic",
                "--size",
                "48",
            ]
        )
        == 2
    )
    assert "--real-arm" in capsys.readouterr().err
    assert (
        main(
            [
                "study",
                "create",
                str(out),
                "--arm",
                f"gan={arms['patho-gan'][0].parent}",
                "--arm",
                f"photos={arms['real'][0].parent}",
                "--task",
                "real-or-synthetic",
                "--real-arm",
                "photos",
                "--size",
                "48",
            ]
        )
        == 0
    )
    with StudyFile(out) as study:
        answer_known(study, "ann", {"photos": 2, "gan": 7})
    assert main(["study", "analyze", str(out), "--format", "imrmc"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["study", "analyze", str(out), "--format", "imrmc", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "mrmc-real-or-synthetic-gan.imrmc").is_file()


def test_real_or_synthetic_refuses_what_it_cannot_analyse(tmp_path, arms):
    with pytest.raises(StudyError, match="at least one synthetic arm"):
        create_study(tmp_path / "a.fvstudy", {"real": arms["real"]}, size=48, task="real-or-synthetic")
    with pytest.raises(StudyError, match="--task must be one of"):
        create_study(tmp_path / "b.fvstudy", arms, size=48, task="guess")


def test_unequal_arms_are_flagged_and_the_call_gets_its_consistency(tmp_path, arms):
    arms["baseline"] = sorted(write_arm(tmp_path / "base", "base", 10, size=SIZE, seed=70).iterdir())
    with create_study(tmp_path / "s.fvstudy", arms, size=48, task="real-or-synthetic", repeats=3) as study:
        answer_known(study, "ann", {"real": 10, "patho-gan": 10, "baseline": 10})  # "synthetic" to everything
        for case in study.case_table():
            if case["repeat_of"] is not None:
                study.answer("ann", case["case_id"], CALL.key, 1)  # changes its mind on every repeat
        analysis = analyze_study(study)
    result = analysis.discrimination
    everything = next(a for a in result.accuracy if a.arm == ALL_ARMS)
    assert result.unbalanced and everything.accuracy == pytest.approx(20 / 30)  # response bias, not skill
    assert all(s.balanced_accuracy == 0.5 for s in result.sensitivity)
    [call] = [c for c in analysis.consistency if c.question == CALL.key]
    assert (call.n, call.exact_agreement) == (3, 0.0)
    assert "balanced accuracy" in format_text(analysis)
