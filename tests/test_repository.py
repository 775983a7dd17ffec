"""The repository stands alone: a fresh clone needs nothing outside it, and no test hides a gap.

A test skipped for missing data would let a clone "pass" with its evidence unexamined, so skips
may only speak of the machine (an absent prover, a kernel without namespaces), never of files.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\.\./shared|/(?:work|farm|root|home)/|DESIGN\.md")
"""A sibling `shared` folder, absolute paths of a machine, notes that are not in the repository."""
DATA_WORDS = re.compile(r"not found|transcript|dataset|data\b|shared", re.IGNORECASE)
FILE_TESTS = (".exists(", ".is_dir(", ".is_file(")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
    ).stdout
    return [REPO / name for name in listed.split("\0") if name]


def tracked_texts() -> list[tuple[Path, str]]:
    texts = []
    for path in tracked_files():
        try:
            texts.append((path, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
    return texts


def test_nothing_tracked_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for path, text in tracked_texts()
        if path != Path(__file__).resolve()
        for m in OUTSIDE.finditer(text)
    ]
    assert not found, "tracked files point outside the repository:\n" + "\n".join(found)


def skip_sites(tree: ast.AST, source: str) -> list[tuple[int, str]]:
    """Each skip of a test, with the text that decides it: the call and any `if` around it."""
    sites = []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if not name.endswith(("skip", "skipif", "importorskip")):
            continue
        text = ast.get_source_segment(source, node) or ""
        parent = parents.get(node)
        while parent is not None and not isinstance(parent, ast.If | ast.FunctionDef):
            parent = parents.get(parent)
        if isinstance(parent, ast.If):
            text = ast.unparse(parent.test) + " " + text
        sites.append((node.lineno, text))
    return sites


def test_skip_sites_are_found_with_their_conditions() -> None:
    source = (
        "import pytest\n"
        "@pytest.mark.skipif(not DATA.is_dir(), reason='data not found')\n"
        "def test_a():\n"
        "    if not Path('x').exists():\n"
        "        pytest.skip('no x')\n"
    )
    texts = [text for _, text in skip_sites(ast.parse(source), source)]
    assert len(texts) == 2
    assert all(any(test in text for test in FILE_TESTS) for text in texts)


@pytest.mark.parametrize(
    "path", sorted((REPO / "tests").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_test_is_skipped_for_missing_data(path: Path) -> None:
    if path == Path(__file__).resolve():
        return
    source = path.read_text(encoding="utf-8")
    bad = [
        f"{path.relative_to(REPO)}:{line}: {text}"
        for line, text in skip_sites(ast.parse(source), source)
        if DATA_WORDS.search(text) or any(test in text for test in FILE_TESTS)
    ]
    assert not bad, "skips for missing data (ship the data in data/ instead):\n" + "\n".join(bad)


def readme_table(first_column: str) -> list[list[str]]:
    """The rows of the README table whose header starts with `first_column`."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_column} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def emitted_reasons() -> dict[str, set[str]]:
    """Reason codes the code writes next to a status, read off its source."""
    pattern = re.compile(r'Status\.([A-Z]+),\s*(?:reason=)?f?"([a-z_]+\.[a-z_{}.]+)"')
    found: dict[str, set[str]] = {}
    for path in (REPO / "leanfilter").rglob("*.py"):
        for status, reason in pattern.findall(path.read_text(encoding="utf-8")):
            found.setdefault(reason, set()).add(status.lower())
    return found


def test_every_reason_goes_with_one_status_and_is_in_the_readme() -> None:
    emitted = emitted_reasons()
    assert "policy.sorry" in emitted and "prover.timeout" in emitted  # the pattern reads the code
    assert {r: s for r, s in emitted.items() if len(s) > 1} == {}
    documented = {
        code.strip("`"): status
        for reasons, status, _ in readme_table("reason")
        for code in reasons.split(", ")
    }
    for reason, (status,) in emitted.items():
        key = re.sub(r"\{.*\}", "memory", reason)  # resource.{raw.exhausted}
        key = re.sub(r"^policy\..*", "policy.RULE", key)  # one per rule of the policy
        assert documented.get(key) == status, f"{reason} ({status}) is not in the README's table"


def test_the_readme_defines_every_status_and_exit_code() -> None:
    from leanfilter.cli.verify import EXIT_PROVER_MISSING
    from leanfilter.records import Status

    statuses = {row[0].strip("`") for row in readme_table("status")}
    assert statuses == {status.value for status in Status}
    codes = {int(row[0]) for row in readme_table("exit code")}
    assert codes == {0, 1, 2, EXIT_PROVER_MISSING, 130}


DOCUMENTS = ["README.md", "data/README.md", "benchmarks/RESULTS.md", "docs"]
REPO_PATH = re.compile(
    r"`((?:docs|data|tests|benchmarks|examples|leanfilter|lean_project)/[\w./-]*)`"
)


def test_every_repository_path_the_documents_name_exists() -> None:
    documents = [
        path
        for name in DOCUMENTS
        for path in ((REPO / name).rglob("*.md") if (REPO / name).is_dir() else [REPO / name])
    ]
    named = {
        (document.relative_to(REPO), found)
        for document in documents
        for found in REPO_PATH.findall(document.read_text(encoding="utf-8"))
    }
    assert (Path("README.md"), "docs/design.md") in named
    missing = sorted(f"{doc}: {path}" for doc, path in named if not (REPO / path).exists())
    assert not missing, "documents name paths that do not exist:\n" + "\n".join(missing)


def test_the_results_say_how_many_candidates_the_examples_ship() -> None:
    examples = REPO / "examples" / "minif2f_rocq" / "candidates.jsonl"
    shipped = sum(1 for line in examples.read_text(encoding="utf-8").splitlines() if line.strip())
    results = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    assert f"`examples/minif2f_rocq` ships {shipped} Coq candidates" in results
    counts = {int(n) for n in re.findall(r"(\d+) shipped miniF2F-rocq candidates", results)}
    assert counts <= {shipped}
