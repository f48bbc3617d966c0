"""``fundus-viewer study``: create, rate, analyse and lock blinded rating studies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer study", description="Blinded 1-5 rating studies in one portable file."
    )
    sub = parser.add_subparsers(dest="action", required=True)

    create = sub.add_parser("create", help="make a study file from one folder of images per arm")
    create.add_argument("out", help="the new study file (e.g. study.fvstudy); never overwritten")
    create.add_argument(
        "--arm",
        action="append",
        required=True,
        metavar="NAME=FOLDER",
        help="an arm and its images; repeat for each arm",
    )
    create.add_argument(
        "--pair-by",
        metavar="REGEX",
        help="pairing key from each file's stem: the first group (or the match), e.g. '(\\d+)'",
    )
    create.add_argument("--seed", type=int, default=0, help="seeds case numbers, repeated cases and each rater's order")
    create.add_argument(
        "--repeat", type=int, default=0, metavar="N", help="show N cases twice, to measure each rater's consistency"
    )
    create.add_argument(
        "--size", type=int, default=512, help="every image is re-encoded as a PNG of this many pixels square"
    )
    create.add_argument(
        "--fit",
        choices=("fov", "pad"),
        default="fov",
        help="fov: crop to the square around the field of view; pad: the whole image on black",
    )
    create.add_argument(
        "--questions",
        metavar="JSON",
        help='questions instead of RL and RNFLD clarity: [{"key", "text", "anchors": [...]}]',
    )
    create.add_argument("--title", default="", help="shown to raters; must not name an arm")
    create.add_argument(
        "--task",
        choices=("score", "real-or-synthetic"),
        default="score",
        help=(
            "score: 1-5 clarity scores (the paper's study); "
            "real-or-synthetic: the rater calls each image real or synthetic, and how sure"
        ),
    )
    create.add_argument(
        "--real-arm",
        default="real",
        metavar="NAME",
        help="with --task real-or-synthetic: the arm holding the real photos (every other arm is synthetic)",
    )
    create.add_argument(
        "--confidence",
        action="store_true",
        help="a score study also asks how sure the rater is (guessing / fairly sure / certain)",
    )
    create.add_argument(
        "--calibration",
        metavar="FOLDER",
        help="calibration cases shown first, with FOLDER/reference.csv (file, one column per question); "
        "their reference scores are revealed after each answer and they are never analysed",
    )

    rate = sub.add_parser("rate", help="open the full-screen blinded rating view")
    rate.add_argument("study")
    rate.add_argument(
        "--rater", help="your name; reopening with it resumes where you stopped (a rater copy knows its rater)"
    )
    rate.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    rate.add_argument(
        "--continue",
        dest="continue_as",
        action="store_true",
        help="go on as a rater who already has answers in the study (refused without it, so that nobody "
        "changes another rater's answers by typing their name)",
    )

    analyze = sub.add_parser(
        "analyze",
        aliases=["analyse"],
        help="unblinded statistics for the study's owner",
        description="Unblinded statistics. A locked study is checked against its seal first: one unlocked by "
        "editing the file, or whose cases (arms, pairing, repeats, image checksums), settings, questions, "
        "reference scores, raters, orders, answers or log changed after the lock, is refused as tampered "
        "(exit 2). An image damaged after the lock is a warning: its answers stand.",
    )
    analyze.add_argument("study")
    analyze.add_argument(
        "--json", action="store_true", help="print JSON instead of a table (the same as --format json)"
    )
    analyze.add_argument(
        "--format",
        choices=("text", "json", "imrmc"),
        default="text",
        help=(
            "imrmc: also write the long tables iMRMC / RJafroc / MRMCaov read into --out "
            "(mrmc-*.csv; .imrmc where a truth is defined)"
        ),
    )
    analyze.add_argument(
        "--out", metavar="DIR", help="also write analysis.json, answers.csv and one histogram PNG per question here"
    )

    status = sub.add_parser(
        "status",
        help="raters and their progress (blinded: no arms)",
        description="Raters and their progress, the images checked against their checksums, and a locked "
        "study's seal digest: compare it with the one `lock` printed. Someone who deletes the digest along "
        "with the lock leaves a study that looks never locked: only the digest you kept shows it.",
    )
    status.add_argument("study")

    lock = sub.add_parser(
        "lock",
        help="lock a finished study: no answer can be added or changed",
        description="Lock the study and seal it: prints a SHA-256 digest of everything the analysis reads (cases, "
        "arms, image checksums, settings, questions, reference scores, raters, orders, answers and log). Keep "
        "the digest: `status` shows it again, and `status` and `analyze` refuse a study changed or unlocked "
        "after its lock.",
    )
    lock.add_argument("study")

    copy = sub.add_parser(
        "rater-copy", help="a sealed file for one rater to take away: images, questions, their order, nothing else"
    )
    copy.add_argument("study")
    copy.add_argument("--rater", required=True)
    copy.add_argument("--out", required=True, metavar="RATER.fvstudy")

    merge = sub.add_parser("merge", help="bring rater copies' answers into the study (idempotent)")
    merge.add_argument("study")
    merge.add_argument("copies", nargs="+", metavar="RATER.fvstudy")
    return parser


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.study.store import reading

    if args.action == "create":
        return _create(args)
    with reading(args.study):  # a damaged file: one line naming it, never a traceback
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.study.store import StudyError, StudyFile, damaged_message

    if args.action == "rate":
        from fundus_viewer.gui.rating_window import run_rating

        return run_rating(args.study, _rater_of(args), fullscreen=not args.windowed)
    if args.action in ("analyze", "analyse"):
        return _analyze(args)
    if args.action in ("rater-copy", "merge"):
        return _copies(args)
    with StudyFile(args.study, readonly=args.action == "status") as study:
        if args.action == "lock":
            study.check_seal()
            print(f"{args.study}: locked; seal digest {study.lock()} (keep it: `study status` shows it again)")
            return 0
        print(
            f"{args.study}: {len(study.case_ids())} cases, {len(study.questions)} questions"
            f"{', locked' if study.locked else ''}"
        )
        if study.lock_digest is not None:  # compare with the one kept: it alone shows a lock undone with it
            print(f"  seal digest {study.lock_digest} (check it against the one `lock` printed)")
        study.check_seal()
        for name in study.raters():
            done, total = study.progress(name)
            print(f"  {name}: {done} of {total} cases complete")
        checked, damaged = len(study.image_digests()), study.damaged_images()
        if damaged:
            raise StudyError(
                f"{damaged_message(args.study, damaged)}; it cannot be rated: restore the file from a copy"
            )
        print(f"  images: {checked} checked, none damaged" if checked else "  images: unchecked (no checksums)")
    return 0


def _rater_of(args: argparse.Namespace) -> str:
    """--rater, or a rater copy's own rater; a copy opened under another name is refused."""
    from fundus_viewer.core.study.rater_copy import copy_rater
    from fundus_viewer.core.study.store import StudyError, StudyFile

    own = copy_rater(args.study)
    given = (args.rater or "").strip()
    if own is not None and given not in ("", own):
        raise StudyError(f"{args.study} is {own}'s rater copy, not {given}'s")
    if own is None and not given:
        raise StudyError("name the rater: --rater NAME")
    if own is None and not args.continue_as:  # a rater copy is its rater's own: reopening it is the point
        with StudyFile(args.study, readonly=True) as study:
            count = study.answer_count(given)
        if count:
            raise StudyError(
                f"{args.study}: {given} already has {count} answers in this study; to go on as {given}, "
                "add --continue (anyone else: choose another name)"
            )
    return own or given


def _copies(args: argparse.Namespace) -> int:
    from fundus_viewer.core.study.rater_copy import make_rater_copy, merge_rater_copy
    from fundus_viewer.core.study.store import StudyFile

    with StudyFile(args.study) as study:
        if args.action == "rater-copy":
            path = make_rater_copy(study, args.rater, args.out)
            print(
                f"{path}: {len(study.order(args.rater))} cases for {args.rater.strip()} "
                "(no arms, sources or other raters); rate it with "
                f"`fundus-viewer study rate {path}`, then `fundus-viewer study merge {args.study} {path}`"
            )
            return 0
        for copy in args.copies:
            print(f"{copy}: {merge_rater_copy(study, copy).says()}")
    return 0


def _create(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fundus_viewer.core.study.create import create_study, load_questions, parse_arms
    from fundus_viewer.core.study.store import DEFAULT_QUESTIONS

    arms = parse_arms(args.arm)
    questions = load_questions(args.questions) if args.questions else DEFAULT_QUESTIONS
    with tqdm(total=sum(map(len, arms.values())), desc="re-encoding images", file=sys.stderr) as bar:
        study = create_study(
            args.out,
            arms,
            size=args.size,
            fit=args.fit,
            pair_by=args.pair_by,
            repeats=args.repeat,
            seed=args.seed,
            questions=questions,
            title=args.title,
            progress=lambda done, total: bar.update(done - bar.n),
            calibration=args.calibration,
            task=args.task,
            real_arm=args.real_arm,
            confidence=args.confidence,
        )
    with study:
        counts = ", ".join(f"{arm} {n}" for arm, n in ((a, len(p)) for a, p in arms.items()))
        paired = sum(1 for c in study.case_table() if c["pair_key"] is not None)
        print(
            f"{args.out}: {len(study.case_ids())} cases ({counts}; {args.repeat} repeated), "
            f"{paired} with a pairing key, seed {args.seed}"
        )
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from fundus_viewer.core.study.report import (
        analyze_study,
        format_text,
        write_answers_csv,
        write_histograms,
        write_json,
    )
    from fundus_viewer.core.study.store import StudyError, StudyFile, damaged_message

    if args.format == "imrmc" and not args.out:
        raise StudyError("--format imrmc writes files: give the folder with --out DIR")
    with StudyFile(args.study, readonly=True) as study:
        if study.meta("kind") == "rater-copy":
            raise StudyError(
                f"{args.study} is a rater copy: it holds no arms; "
                "merge it into the study (`study merge`) and analyse that"
            )
        study.check_seal()
        damaged = study.damaged_images()
        if damaged:  # the answers still stand; the images cannot be rated again
            print(f"warning: {damaged_message(args.study, damaged)}; its answers stand", file=sys.stderr)
        analysis = analyze_study(study)
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            write_json(analysis, out / "analysis.json")
            write_answers_csv(study, out / "answers.csv")
            written = write_histograms(analysis, out)
            print(
                f"wrote {out / 'analysis.json'}, {out / 'answers.csv'} and {len(written)} histogram(s)", file=sys.stderr
            )
            if args.format == "imrmc":
                from fundus_viewer.core.study.mrmc import write_mrmc

                tables = write_mrmc(study, out)
                print(f"wrote {', '.join(str(t) for t in tables)} (see the README, 'MRMC export')", file=sys.stderr)
    if args.json or args.format == "json":
        import json

        print(json.dumps(analysis.to_dict(), indent=1))
    else:
        print(format_text(analysis))
    return 0
