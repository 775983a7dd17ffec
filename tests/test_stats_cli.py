"""`leanfilter stats` on real verdict files, and the Pareto frontier it draws."""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.text import Text

from leanfilter.cli import main
from leanfilter.db import ProofDB
from leanfilter.metrics import Interval
from leanfilter.pareto import ParetoPoint, pareto_figure, pareto_front
from leanfilter.records import BackendName, Candidate, Status, Verdict


def write_run(path: Path, outcomes: dict[str, list[str]]) -> Path:
    """A verdict file shaped like `leanfilter verify -o` output: one line per sample."""
    lines = []
    for name, statuses in outcomes.items():
        for status in statuses:
            record = {
                "line": len(lines) + 1,
                "name": name,
                "status": status,
                "messages": [],
                "time_s": 0.01,
                "cached": False,
            }
            lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def stats(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["stats", *args])
    return result.exit_code, result.output


def metric_row(output: str, run: str, k: int) -> tuple[float, float, float, int]:
    """(estimate, low, high, problems) of pass@k in the table of `run`."""
    section = output.split(f"== {run}:")[1].split("==")[0]
    pattern = rf"pass@{k}\s+([\d.]+)\s+\[([\d.]+), ([\d.]+)\]\s+(\d+)"
    match = re.search(pattern, section)
    assert match, section
    return float(match[1]), float(match[2]), float(match[3]), int(match[4])


P, F, E = "proved", "failed", "error"
STATEMENT = "Theorem t : forall n : nat, n + 0 = n.\n"
SCRIPTS = ["intros; lia.", "intros; nia.", "auto.", "lia."]


def test_one_run_reports_precision_coverage_and_buckets(tmp_path):
    run = write_run(
        tmp_path / "base.jsonl",
        {
            "easy": [P, P, P, P],
            "half": [P, P, F, "timeout"],
            "hard": [P, F, F, "rejected"],
            "none": [F, F, F, F],
            "flaky": [P, E, F, E],
        },
    )
    code, output = stats(str(run), "--k", "2,4")
    assert code == 0, output
    assert "5 problems answered, 18 samples, engine errors 2" in output
    estimate, low, high, problems = metric_row(output, "base", 1)
    assert estimate == pytest.approx((1 + 0.5 + 0.25 + 0 + 0.5) / 5, abs=5e-4)
    assert low <= estimate <= high and problems == 5
    # pass@2: easy 1, half 5/6, hard 1/2, none 0, flaky (2 answers, 1 proved) 1
    assert metric_row(output, "base", 2)[0] == pytest.approx((1 + 5 / 6 + 0.5 + 1) / 5, abs=5e-4)
    # pass@4 needs four answers: flaky has two, so it is left out
    assert metric_row(output, "base", 4)[0] == pytest.approx(3 / 4, abs=5e-4)
    assert metric_row(output, "base", 4)[3] == 4
    buckets = dict(re.findall(r"^\s+(easy|medium|hard|unsolved)\s+(\d+)", output, re.M))
    assert buckets == {"easy": "1", "medium": "2", "hard": "1", "unsolved": "1"}


def test_several_runs_are_compared_and_plotted(tmp_path):
    names = [f"p{i}" for i in range(30)]
    rng = np.random.default_rng(5)
    rates = rng.uniform(size=30)
    runs = []
    for label, boost in (("base", 0.0), ("tuned", 0.3), ("worse", -0.3)):
        outcomes = {
            name: [P if rng.uniform() < np.clip(rate + boost, 0, 1) else F for _ in range(8)]
            for name, rate in zip(names, rates, strict=True)
        }
        runs.append(write_run(tmp_path / f"{label}.jsonl", outcomes))
    plot = tmp_path / "pareto.png"
    code, output = stats(*map(str, runs), "--k", "1,8", "--plot", str(plot))
    assert code == 0, output
    gain = re.search(
        r"== tuned against base.*?pass@1\s+difference ([+-][\d.]+)\s+p = ([\d.]+)", output, re.S
    )
    assert gain and float(gain[1]) > 0.15 and float(gain[2]) < 0.01
    assert re.search(r"== worse against base.*?pass@1\s+difference -", output, re.S)
    assert "pass@8" in output and "against pass@8" in output
    image = matplotlib.image.imread(plot)
    assert image.shape[:2] == (720, 960)
    assert image[..., :3].std() > 0.05  # something was drawn on the white page


def test_reference_sets_buckets_and_comparisons(tmp_path):
    a = write_run(tmp_path / "a.jsonl", {"x": [P, P], "y": [F, F]})
    b = write_run(tmp_path / "b.jsonl", {"x": [F, F], "y": [P, F]})
    code, output = stats(str(a), str(b), "--reference", "b")
    assert code == 0, output
    assert "== a against b" in output and "against a" not in output
    assert "buckets by the pass@1 of 'b'" in output
    assert re.search(r"gained 1: x", output) and re.search(r"lost\s+1: y", output)


def test_same_file_names_in_two_folders_get_their_paths_as_labels(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_run(tmp_path / "one" / "run.jsonl", {"x": [P]})
    second = write_run(tmp_path / "two" / "run.jsonl", {"x": [F]})
    code, output = stats(str(first), str(second))
    assert code == 0, output
    assert f"== {first}:" in output and f"== {second}:" in output


def test_each_run_of_a_proof_database_is_a_run(tmp_path):
    path = tmp_path / "proofs.db"
    with ProofDB(path) as db:
        for command, outcomes in (
            ("first", {"x": [P, P, F, E], "y": [F, F]}),
            ("second", {"x": [P, P, P, P], "y": [P, F]}),
        ):
            run = db.start_run(command, {})
            sample = 0
            for name, statuses in outcomes.items():
                for script, status in zip(SCRIPTS, statuses, strict=False):
                    candidate = Candidate(
                        name=name, backend=BackendName.COQ, statement=STATEMENT, proof=script
                    )
                    sample += 1
                    verdict = Verdict(name=name, status=Status(status))
                    db.record(candidate, verdict, run.id, sample=sample)
            db.end_run(run.id)
        first, second = (run.id[:8] for run in db.runs())
    code, output = stats(str(path), "--k", "1,2")
    assert code == 0, output
    assert f"== proofs:{first}: 2 problems answered, 5 samples, engine errors 1" in output
    assert metric_row(output, f"proofs:{first}", 1)[0] == pytest.approx((2 / 3 + 0) / 2, abs=5e-4)
    assert metric_row(output, f"proofs:{second}", 1)[0] == pytest.approx((1 + 0.5) / 2, abs=5e-4)
    assert f"== proofs:{second} against proofs:{first}" in output
    assert re.search(r"gained 1: y", output)
    # first run: `intros; lia.` and `intros; nia.` accepted, tactic uses intros 2, lia 1, nia 1
    assert "2 distinct over 1 problems" in output
    assert "tactics   Shannon 1.040  Simpson 0.625" in output
    assert "5 distinct over 2 problems" in output  # second run: 4 for x, 1 for y


def test_a_sample_repeated_verbatim_counts_every_time_in_a_database(tmp_path):
    path = tmp_path / "proofs.db"
    proved = Candidate(name="x", backend=BackendName.COQ, statement=STATEMENT, proof=SCRIPTS[0])
    failed = Candidate(name="x", backend=BackendName.COQ, statement=STATEMENT, proof=SCRIPTS[2])
    with ProofDB(path) as db:
        run = db.start_run("repeats", {})
        for sample, candidate in enumerate([proved, proved, proved, failed], start=1):
            status = Status.PROVED if candidate is proved else Status.FAILED
            db.record(candidate, Verdict(name="x", status=status), run.id, sample=sample)
        db.end_run(run.id)
    code, output = stats(str(path), "--k", "1")
    assert code == 0, output
    assert "4 samples" in output
    assert metric_row(output, f"proofs:{run.id[:8]}", 1)[0] == pytest.approx(0.75, abs=5e-4)


def test_diversity_of_a_verdict_file_needs_its_input(tmp_path):
    outcomes = {"x": [P, P, F, P], "y": [F, F]}
    verdicts = write_run(tmp_path / "run.jsonl", outcomes)
    code, output = stats(str(verdicts))
    assert code == 0, output
    assert "holds no proofs (give its input with --candidates)" in output

    inputs = tmp_path / "inputs.jsonl"
    lines = [
        {"name": name, "formal_statement": STATEMENT, "proof": script}
        for name, statuses in outcomes.items()
        for script, _ in zip(SCRIPTS, statuses, strict=False)
    ]
    inputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, output = stats(str(verdicts), "--candidates", str(inputs))
    assert code == 0, output
    # accepted: intros; lia / intros; nia / lia: uses intros 2, lia 2, nia 1
    assert "3 distinct over 1 problems" in output
    expected = -sum(p * math.log(p) for p in (0.4, 0.4, 0.2))
    assert f"tactics   Shannon {expected:.3f}  Simpson {1 - 0.16 - 0.16 - 0.04:.3f}" in output

    code, output = stats(str(verdicts), "--candidates", str(inputs), "--candidates", str(inputs))
    assert code != 0 and "give one per verdict file" in output


def test_a_database_of_another_application_is_refused(tmp_path):
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    code, output = stats(str(path))
    assert code != 0 and "not a leanfilter proof database" in output
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "1,x"], "comma-separated integers"),
        (["--k", "0,4"], "at least 1"),
        (["--reference", "nobody"], "no run is labelled 'nobody'"),
        (["--k", "1,64", "--plot", "out.png"], "every run has enough samples"),
    ],
)
def test_bad_options_are_explained(tmp_path, args, message):
    run = write_run(tmp_path / "r.jsonl", {"x": [P, F]})
    code, output = stats(str(run), *args)
    assert code != 0 and message in output


def test_a_run_given_twice_is_refused(tmp_path):
    run = write_run(tmp_path / "r.jsonl", {"x": [P, F]})
    code, output = stats(str(run), str(run))
    assert code != 0 and "given twice" in output


def test_a_line_that_is_no_verdict_names_its_file_and_line(tmp_path):
    run = tmp_path / "broken.jsonl"
    run.write_text('{"name": "x", "status": "proved"}\n{"name": "x", "status": "maybe"}\n')
    code, output = stats(str(run))
    assert code != 0
    assert f"{run}:2: not a verdict line" in output


points = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12)


@given(points)
def test_pareto_front_is_exactly_the_undominated_points(xy):
    front = pareto_front(xy)
    on_front = {xy[i] for i in front}
    assert len(on_front) == len(front)  # one index per distinct point
    for x, y in xy:
        beaten = any(ox >= x and oy >= y and (ox, oy) != (x, y) for ox, oy in xy)
        assert ((x, y) in on_front) != beaten
    ordered = [xy[i] for i in front]
    assert ordered == sorted(ordered)
    assert all(a[1] > b[1] for a, b in itertools.pairwise(ordered))  # y falls as x rises


def test_labels_sit_by_their_own_point_or_on_a_leader_line_and_never_overlap():
    def interval(value: float) -> Interval:
        return Interval(estimate=value, low=value - 0.05, high=value + 0.05, confidence=0.95)

    crowd = [(0.396, 0.84), (0.406, 0.84), (0.40, 0.845), (0.2, 0.5), (0.401, 0.835)]
    points = [
        ParetoPoint(label=f"run number {i}", precision=interval(x), coverage=interval(y))
        for i, (x, y) in enumerate(crowd)
    ]
    figure = pareto_figure(points, 8)
    ax = figure.axes[0]
    figure.canvas.draw()  # lays out every artist where the PNG would have it
    renderer = figure.canvas.get_renderer()
    markers = ax.transData.transform(crowd)
    boxes = [Text.get_window_extent(text, renderer) for text in ax.texts]  # without leader lines
    assert [text.get_text() for text in ax.texts] == [p.label for p in points]
    leaders = [text.arrow_patch.get_visible() for text in ax.texts]
    assert any(leaders) and not all(leaders)  # the crowd needs leader lines, the loner none
    for own, box in enumerate(boxes):
        if not leaders[own]:
            distances = np.linalg.norm(markers - box.get_points().mean(axis=0), axis=1)
            assert np.argmin(distances) == own
        assert not any(box.overlaps(other) for other in boxes[:own])


# -- what is not comparable is said, cut down or refused ------------------------------------


def test_the_k_left_out_are_named_with_the_reason(tmp_path):
    run = write_run(tmp_path / "r.jsonl", {"x": [P, F, F, P], "y": [F, F, F, F]})
    code, output = stats(str(run))
    assert code == 0, output
    note = "pass@8, pass@64, pass@256 not estimated: no problem has that many answered samples"
    assert f"  {note} (the most is 4)\n" in output


def test_the_bucket_thresholds_are_shown(tmp_path):
    run = write_run(tmp_path / "r.jsonl", {"x": [P, F]})
    code, output = stats(str(run))
    assert code == 0, output
    assert "(easy ≥ 0.9, medium ≥ 0.3, hard > 0, unsolved = 0)" in output


def test_candidates_that_do_not_match_the_verdicts_are_refused_with_both_counts(tmp_path):
    verdicts = write_run(tmp_path / "run.jsonl", {"x": [P, F, P]})
    inputs = tmp_path / "inputs.jsonl"
    line = json.dumps({"name": "x", "formal_statement": STATEMENT, "proof": "lia."})
    inputs.write_text(line + "\n")
    code, output = stats(str(verdicts), "--candidates", str(inputs))
    assert code == 1
    assert f"{inputs} holds 1 input lines but {verdicts} holds 3 verdicts" in output


def test_runs_over_different_problems_are_compared_on_the_shared_ones(tmp_path):
    wide = write_run(tmp_path / "wide.jsonl", {f"p{i}": [F, F] for i in range(10)} | {"a": [P, F]})
    narrow = write_run(tmp_path / "narrow.jsonl", {"a": [P, P], "b": [P, P]})
    plot = tmp_path / "plot.png"
    code, output = stats(str(wide), str(narrow), "--k", "1,2", "--plot", str(plot))
    assert code == 0, output
    assert "the runs cover different problems (wide 11, narrow 2)" in output
    assert "over the 1 problems they share" in output
    assert metric_row(output, "wide", 1)[0] == pytest.approx(0.5, abs=5e-4)
    assert metric_row(output, "narrow", 1)[3] == 1


def test_runs_that_share_no_problem_are_refused(tmp_path):
    one = write_run(tmp_path / "one.jsonl", {"a": [P]})
    two = write_run(tmp_path / "two.jsonl", {"b": [P]})
    code, output = stats(str(one), str(two))
    assert code == 1 and "the runs share no problem (one 1, two 1)" in output


def test_a_diversity_index_that_is_0_by_construction_says_why(tmp_path):
    outcomes = {"x": [P, P]}
    verdicts = write_run(tmp_path / "run.jsonl", outcomes)
    inputs = tmp_path / "inputs.jsonl"
    lines = [{"name": "x", "formal_statement": STATEMENT, "proof": p} for p in ("lia.", "nia.")]
    inputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, output = stats(str(verdicts), "--candidates", str(inputs))
    assert code == 0, output
    premises = next(line for line in output.splitlines() if "premises  Shannon" in line)
    assert "0.000" in premises
    assert "1 of 1 problems: their proofs name fewer than 2 distinct premises" in premises
    tactics = next(line for line in output.splitlines() if "tactics   Shannon" in line)
    assert "by construction" not in tactics


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 0, 2]])
def test_identical_runs_are_both_drawn_on_the_frontier(order):
    def interval(value: float) -> Interval:
        return Interval(estimate=value, low=value - 0.05, high=value + 0.05, confidence=0.95)

    runs = [("same-a", 0.5, 0.8), ("same-b", 0.5, 0.8), ("beaten", 0.3, 0.6)]
    points = [
        ParetoPoint(label=label, precision=interval(x), coverage=interval(y))
        for label, x, y in (runs[i] for i in order)
    ]
    ax = pareto_figure(points, 8).axes[0]
    drawn = {c.get_label(): len(c.lines[0].get_xdata()) for c in ax.containers}
    assert drawn == {"on the Pareto frontier": 2, "dominated": 1}
    colours = {text.get_text(): text.get_color() for text in ax.texts}
    assert colours["same-a"] == colours["same-b"] == "black"


def test_a_junk_file_is_named_in_one_line(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\xd0\xff\x00binary")
    code, output = stats(str(junk))
    assert code == 1
    assert f"{junk}: neither a verdict file nor a proof database" in output
    assert output.strip().count("\n") == 0
