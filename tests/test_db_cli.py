"""`leanfilter db`: queries, exports and imports, on real SQLite files and real verdict files."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from leanfilter.cache import candidate_key
from leanfilter.cli import main
from leanfilter.db import ProofDB, StoredResult
from leanfilter.diversity import DiversityStats
from leanfilter.export import FEATURES
from leanfilter.records import BackendName, Candidate, Problem, SamplerInfo, Status, Verdict

HEADER = "Require Import Lia."


def db_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["db", *map(str, args)])
    return result.exit_code, result.output


def coq_candidate(name: str, proof: str, sample: int = 0) -> Candidate:
    return Candidate(
        name=name,
        backend=BackendName.COQ,
        header=HEADER,
        statement=f"Theorem {name} : forall n : nat, n + 0 = n.",
        proof=proof,
        sampler=SamplerInfo(model="base", step=sample, temperature=1.0, logp_base=-3.5),
    )


def verdict(c: Candidate, status: Status) -> Verdict:
    return Verdict(
        name=c.name,
        status=status,
        axioms=[] if status is Status.PROVED else None,
        backend=c.backend,
        toolchain="coq-8.16",
        policy_version="p1",
        key=candidate_key(c, toolchain="coq-8.16", policy_version="p1"),
    )


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, str]:
    """A database with one run: `a` proved three ways (two layouts of one proof), `b` failed."""
    path = tmp_path / "proofs.db"
    with ProofDB(path) as db:
        db.add_problems(
            [
                Problem(
                    name="a",
                    backend=BackendName.COQ,
                    header=HEADER,
                    statement="Theorem a : forall n : nat, n + 0 = n.",
                    split="valid",
                )
            ]
        )
        run = db.start_run("leanfilter verify x.jsonl", {})
        results = [
            (coq_candidate("a", "intros n. lia.", 0), Status.PROVED),
            (coq_candidate("a", "intros n.\n  lia.", 1), Status.PROVED),
            (coq_candidate("a", "intros. rewrite Nat.add_0_r. reflexivity.", 2), Status.PROVED),
            (coq_candidate("b", "reflexivity.", 0), Status.FAILED),
        ]
        for c, status in results:
            db.record(c, verdict(c, status), run.id)
        db.end_run(run.id)
    return path, run.id


def test_stats_solved_proofs_and_runs(filled):
    path, run = filled
    code, out = db_cli("stats", path)
    assert code == 0
    assert "solved 1/2 problems" in out
    code, out = db_cli("stats", path, "--json", "--run", run)
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert (rows["a"]["proved"], rows["a"]["distinct_proofs"], rows["b"]["failed"]) == (3, 2, 1)
    assert db_cli("solved", path) == (0, "a\n")
    code, out = db_cli("proofs", path, "a", "--json")
    assert [json.loads(line)["candidates"] for line in out.splitlines()] == [2, 1]
    code, out = db_cli("proofs", path, "b")
    assert code == 1 and "no accepted proof of 'b'" in out
    code, out = db_cli("runs", path)
    assert json.loads(out)["id"] == run


def test_accepted_in_a_run_as_json_lines(filled):
    path, run = filled
    code, out = db_cli("accepted", path, run)
    assert code == 0
    results = [StoredResult.model_validate_json(line) for line in out.splitlines()]
    assert {r.candidate.proof for r in results} == {
        "intros n. lia.",
        "intros n.\n  lia.",
        "intros. rewrite Nat.add_0_r. reflexivity.",
    }
    assert all(r.verdict.status is Status.PROVED and r.candidate.sampler for r in results)


def test_export_to_json_lines(filled, tmp_path):
    path, _ = filled
    out = tmp_path / "all.jsonl"
    assert db_cli("export", path, out)[0] == 0
    results = [StoredResult.model_validate_json(line) for line in out.read_text().splitlines()]
    assert sorted(r.verdict.status.value for r in results) == [
        "failed",
        "proved",
        "proved",
        "proved",
    ]
    assert db_cli("export", path, tmp_path / "ok.jsonl", "--accepted-only")[0] == 0
    assert len((tmp_path / "ok.jsonl").read_text().splitlines()) == 3


def test_export_to_a_hugging_face_folder(filled, tmp_path):
    path, _ = filled
    folder = tmp_path / "dataset"
    code, _ = db_cli("export", path, folder, "--format", "hf")
    assert code == 0
    rows = {
        split.stem: [json.loads(line) for line in split.read_text().splitlines()]
        for split in (folder / "data").glob("*.jsonl")
    }
    assert {k: len(v) for k, v in rows.items()} == {"valid": 3, "train": 1}  # `b` has no split
    assert all(list(row) == list(FEATURES) for split in rows.values() for row in split)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and card.count("\n---\n") == 1
    yaml = pytest.importorskip("yaml")
    header = yaml.safe_load(card.split("---\n")[1])
    files = header["configs"][0]["data_files"]
    assert {f["split"]: f["path"] for f in files} == {
        "train": "data/train.jsonl",
        "valid": "data/valid.jsonl",
    }
    declared = {f["name"] for f in header["dataset_info"]["features"]}
    assert declared == set(FEATURES)
    code, out = db_cli("export", path, folder, "--format", "hf")
    assert code == 1 and "not empty" in out


def test_the_exported_folder_loads_with_datasets(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # read before the import: never the network
    datasets = importlib.import_module("datasets")  # a dev dependency: never skipped
    path, _ = filled
    folder = tmp_path / "dataset"
    assert db_cli("export", path, folder, "--format", "hf")[0] == 0
    loaded = datasets.load_dataset(str(folder))
    assert loaded["valid"].num_rows == 3
    assert loaded["train"][0]["status"] == "failed"
    assert loaded["valid"].features["axioms"].feature.dtype == "string"


def test_diversity_table_and_graphml(filled, tmp_path):
    path, _ = filled
    graphml = tmp_path / "g.graphml"
    code, out = db_cli("diversity", path, "--graphml", graphml, "--json")
    assert code == 0
    (row,) = [DiversityStats.model_validate_json(line) for line in out.splitlines()]
    assert (row.problem, row.accepted, row.distinct_proofs) == ("a", 3, 2)
    assert row.tactic_shannon > 0
    graph = nx.read_graphml(graphml)
    assert {d["kind"] for _, d in graph.nodes(data=True)} == {
        "problem",
        "proof",
        "tactic",
        "premise",
    }
    assert "premise:Nat.add_0_r" in graph


def test_a_foreign_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "mine.db"
    path.write_text("precious notes\n")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for command in (["stats", path], ["import", path, path]):
        code, out = db_cli(*command)
        assert code == 1
        assert out.strip().count("\n") == 0 and "not a SQLite database" in out
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


# -- imports ----------------------------------------------------------------------------------


@pytest.mark.coq
def test_import_of_our_own_verify_output(tmp_path):
    inputs = tmp_path / "in.jsonl"
    lines = [
        {"name": "p1", "header": HEADER, "formal_statement": "Theorem p1 : 1 + 1 = 2.",
         "proof": "lia."},
        {"name": "p2", "header": HEADER, "formal_statement": "Theorem p2 : 2 = 3.",
         "proof": "lia."},
        {"name": "bad"},
    ]  # fmt: skip
    inputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    output = tmp_path / "out.jsonl"
    verified = CliRunner().invoke(main, ["verify", str(inputs), "-o", str(output)])
    assert verified.exit_code == 0, verified.output
    path = tmp_path / "imported.db"
    code, out = db_cli("import", path, output, "--inputs", inputs)
    assert code == 0, out
    assert "2 verdicts imported from 2 records" in out
    with ProofDB(path) as db:
        stats = {s.name: s for s in db.problem_stats()}
        assert (stats["p1"].proved, stats["p2"].failed) == (1, 1)
        own_key = json.loads(output.read_text().splitlines()[0])["key"]
        assert db.get(own_key) is None  # an import is a record, never a cache entry

    other = tmp_path / "other.jsonl"
    other.write_text(inputs.read_text().replace('"p1"', '"q1"'))
    code, out = db_cli("import", path, output, "--inputs", other)
    assert code == 1 and "not the input this output came from" in out
    code, out = db_cli("import", path, output)
    assert code == 1 and "give the input file" in out


def repl_answer(data: Path, case: str) -> dict:
    """The Lean REPL's recorded answer to the first command of a transcript case."""
    text = (data / "lean_repl_transcripts" / f"{case}.expected.out").read_text()
    return json.JSONDecoder().raw_decode(text.lstrip())[0]


def repl_command(data: Path, case: str) -> str:
    text = (data / "lean_repl_transcripts" / f"{case}.in").read_text()
    return json.JSONDecoder().raw_decode(text.lstrip())[0]["cmd"]


def test_import_of_deepseek_prover_results(benchmark_data, tmp_path):
    answer = repl_answer(benchmark_data, "all_tactics")
    messages = answer.get("messages", [])

    def compilation(**changes: object) -> dict:
        result = {
            "sorries": answer.get("sorries", []),
            "tactics": answer["tactics"],
            "errors": [m for m in messages if m["severity"] == "error"],
            "warnings": [m for m in messages if m["severity"] == "warning"],
            "infos": [m for m in messages if m["severity"] == "info"],
            "system_messages": "",
            "system_errors": None,
            "verified_code": "",
            "pass": True,
            "complete": True,
            "verify_time": 1.5,
        }
        return {**result, **changes}

    code = repl_command(benchmark_data, "all_tactics")
    records = [
        {"name": "f_def", "code": code, "compilation_result": compilation()},
        {"name": "g_def", "code": code + " ", "compilation_result": compilation(complete=False)},
        {"name": "h_def", "code": code + "  ", "compilation_result": {
            "pass": False, "complete": False, "system_errors": "Traceback: timeout",
            "verify_time": 300.0}},
    ]  # fmt: skip
    results = tmp_path / "code_compilation.json"
    results.write_text(json.dumps(records, indent=4))
    path = tmp_path / "p.db"
    code_, out = db_cli("import", path, results)
    assert code_ == 0, out
    with ProofDB(path) as db:
        stored = {r.problem: r for r in db.results()}
    assert stored["f_def"].verdict.status is Status.PROVED
    assert stored["f_def"].used_constants == ["instOfNatNat", "Nat", "OfNat.ofNat"]
    assert stored["f_def"].verdict.toolchain == "import:deepseek"
    assert stored["f_def"].candidate.whole_file
    assert (stored["g_def"].verdict.status, stored["g_def"].verdict.reason) == (
        Status.FAILED,
        "import.incomplete",
    )
    assert stored["h_def"].verdict.status is Status.ERROR
    assert stored["f_def"].verdict.time_s == 1.5


def test_import_of_kimina_results(benchmark_data, tmp_path):
    document = {
        "results": [
            {"custom_id": "calc_ex", "code": repl_command(benchmark_data, "calc"), "error": None,
             "response": repl_answer(benchmark_data, "calc")},
            {"custom_id": "def_f", "code": repl_command(benchmark_data, "all_tactics"),
             "error": None, "response": repl_answer(benchmark_data, "all_tactics")},
            {"custom_id": "lost", "code": "theorem x : True := trivial", "error": "timeout",
             "response": None},
        ]
    }  # fmt: skip
    results = tmp_path / "kimina.json"
    results.write_text(json.dumps(document))
    path = tmp_path / "p.db"
    code, out = db_cli("import", path, results, "--format", "kimina")
    assert code == 0, out
    with ProofDB(path) as db:
        stored = {r.problem: r for r in db.results()}
    assert (stored["calc_ex"].verdict.status, stored["calc_ex"].verdict.reason) == (
        Status.FAILED,
        "import.sorry",
    )
    assert "sorryAx" in stored["calc_ex"].used_constants
    assert stored["def_f"].verdict.status is Status.PROVED
    assert stored["lost"].verdict.status is Status.ERROR


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"name": "x", "code": "c", "compilation_result": {}}\nnot json\n', ":2: malformed JSON"),
        ('{"what": 1}\n', ":1: unknown verdict format"),
        ('{"custom_id": "x", "response": {}}\n', "needs the `code`"),
        ('{"name": "x", "code": "c", "compilation_result": []}\n', "not a deepseek result"),
        ("[1, 2]", "record 1: expected a JSON object"),
    ],
)
def test_bad_verdict_files_get_one_line_errors(tmp_path, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    code, out = db_cli("import", tmp_path / "p.db", bad)
    assert code == 1
    assert message in out and out.strip().count("\n") == 0


# -- refusals: a command that cannot do what it was asked says why, with a non-zero exit ------


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--run", "nosuch"],
        ["solved", "--run", "nosuch"],
        ["accepted", "nosuch"],
        ["diversity", "--run", "nosuch"],
        ["export", "OUT", "--run", "nosuch"],
    ],
)
def test_an_unknown_run_is_said_not_to_exist(filled, tmp_path, command):
    path, _ = filled
    args = [str(tmp_path / "out.jsonl") if part == "OUT" else part for part in command]
    code, out = db_cli(args[0], path, *args[1:])
    assert code == 1
    assert "no run 'nosuch'" in out and out.strip().count("\n") == 0


def test_a_run_is_found_by_the_prefix_stats_labels_it_with(filled):
    path, run_id = filled
    assert db_cli("solved", path, "--run", run_id[:8]) == (0, "a\n")


def verify_output(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Inputs that name their problems, the problems file, and verdict lines for them."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        json.dumps({"name": "p1", "backend": "coq", "header": HEADER,
                    "statement": "Theorem p1 : 1 + 1 = 2."}) + "\n"
    )  # fmt: skip
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"name": "p1", "proof": "lia."}\n{"name": "p1", "proof": "auto."}\n')
    output = tmp_path / "out.jsonl"
    output.write_text(
        '{"line": 1, "name": "p1", "status": "proved", "backend": "coq", "axioms": []}\n'
        '{"line": 2, "name": "p1", "status": "failed", "backend": "coq"}\n'
    )
    return inputs, problems, output


def runs_in(path: Path) -> list:
    if not path.exists():
        return []
    with ProofDB(path) as db:
        return db.runs()


def test_an_import_without_the_runs_problems_says_why_and_stores_nothing(tmp_path):
    inputs, problems, output = verify_output(tmp_path)
    path = tmp_path / "p.db"
    code, out = db_cli("import", path, output, "--inputs", inputs)
    assert code == 1 and "no candidate as read here" in out and "--problems" in out
    assert runs_in(path) == []
    code, out = db_cli("import", path, output, "--inputs", inputs, "--problems", problems)
    assert code == 0 and "2 verdicts imported from 2 records" in out
    assert [run.ended is not None for run in runs_in(path)] == [True]


def test_a_failed_import_leaves_no_half_made_run(tmp_path):
    inputs, problems, output = verify_output(tmp_path)
    output.write_text(output.read_text() + '{"line": 3, "status": "proved"}\n')
    path = tmp_path / "p.db"
    code, out = db_cli("import", path, output, "--inputs", inputs, "--problems", problems)
    assert code == 1 and ":3: not a leanfilter verdict" in out
    assert runs_in(path) == []


def test_an_import_that_finds_nothing_says_so(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    path = tmp_path / "p.db"
    code, out = db_cli("import", path, empty)
    assert code == 1 and "nothing to import" in out
    assert runs_in(path) == []
