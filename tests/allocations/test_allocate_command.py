"""``manage.py allocate``: runs a policy on a problem file; malformed input exits with status 2."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.allocations.test_optimiser import knapsack_problem, small_problem

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def problem_file(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(knapsack_problem()), encoding="utf-8")
    return path


def test_allocate_prints_result_to_stdout(problem_file):
    out = StringIO()

    call_command("allocate", "--input", str(problem_file), "--policy", "optimal", stdout=out)

    result = json.loads(out.getvalue())
    assert (result["policy"], result["status"], result["objective"]) == ("optimal", "optimal", 9.675)
    assert {p: a["share"] for p, a in result["awards"].items()} == {"P1": 0.0, "P2": 1.0, "P3": 1.0, "P4": 0.625}


def test_allocate_writes_output_file(problem_file, tmp_path):
    output = tmp_path / "result.json"
    out = StringIO()

    call_command("allocate", "--input", str(problem_file), "--policy", "rank", "--output", str(output), stdout=out)

    assert out.getvalue() == ""
    result = json.loads(output.read_text(encoding="utf-8"))
    assert (result["policy"], result["objective"]) == ("rank", 7.5)


def test_allocate_keeps_money_exact_from_file(tmp_path):
    # Floats in the file are read as decimals: a fractional hour count is costed exactly.
    path = tmp_path / "problem.json"
    path.write_text(
        '{"pools": {"h800": {"price": "25.00", "capacity": {"2026Q1": 100}}}, "subsidy_rate": "0.70",'
        ' "budget": "1000000.00", "org_cap": 1.0,'
        ' "projects": [{"id": "X", "org": "o", "score": 3.1, "min_share": 0.5, "request": {"h800": {"2026Q1": 0.1}}}]}',
        encoding="utf-8",
    )
    out = StringIO()

    call_command("allocate", "--input", str(path), "--policy", "rank", stdout=out)

    # 0.1 x 25.00 x 0.70 = 1.75
    assert json.loads(out.getvalue())["awards"]["X"]["subsidy"] == "1.75"


def test_allocate_time_limit_passed_to_solver(problem_file):
    out = StringIO()

    call_command("allocate", "--input", str(problem_file), "--policy", "optimal", "--time-limit", "5", stdout=out)

    assert json.loads(out.getvalue())["status"] == "optimal"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
        (json.dumps({**small_problem(), "org_cap": 2}), "org_cap: must be in (0, 1]"),
        (
            json.dumps(
                {
                    **small_problem(),
                    "projects": [{**small_problem()["projects"][0], "request": {"a100": {"2026Q1": 1}}}],
                }
            ),
            "projects[0].request.a100: unknown pool",
        ),
    ],
)
def test_allocate_malformed_input_returncode_2(tmp_path, content, message):
    path = tmp_path / "problem.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as excinfo:
        call_command("allocate", "--input", str(path), "--policy", "rank")

    assert excinfo.value.returncode == 2
    assert str(excinfo.value).endswith(message)


def test_allocate_missing_file_returncode_2(tmp_path):
    with pytest.raises(CommandError) as excinfo:
        call_command("allocate", "--input", str(tmp_path / "nope.json"), "--policy", "rank")

    assert excinfo.value.returncode == 2
    assert str(excinfo.value) == f"--input {tmp_path / 'nope.json'}: cannot read: No such file or directory"


def test_allocate_tiers_without_tiers_returncode_2(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps({**small_problem(), "tiers": None}), encoding="utf-8")

    with pytest.raises(CommandError) as excinfo:
        call_command("allocate", "--input", str(path), "--policy", "tiers")

    assert (excinfo.value.returncode, str(excinfo.value)) == (
        2,
        "tiers: missing (the tiers policy needs at least one threshold)",
    )


def test_allocate_bad_time_limit_returncode_2(problem_file):
    with pytest.raises(CommandError) as excinfo:
        call_command("allocate", "--input", str(problem_file), "--policy", "optimal", "--time-limit", "0")

    assert (excinfo.value.returncode, str(excinfo.value)) == (2, "--time-limit: must be a positive number of seconds")


def test_allocate_unwritable_output_fails(problem_file, tmp_path):
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "allocate", "--input", str(problem_file), "--policy", "rank", "--output", str(tmp_path / "no" / "r.json")
        )

    assert excinfo.value.returncode == 1


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    return subprocess.run(
        [sys.executable, "manage.py", "allocate", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_allocate_process_malformed_input_exits_2(tmp_path):
    path = tmp_path / "problem.json"
    problem = small_problem()
    problem["projects"][3]["request"]["h800"]["2026Q2"] = -50
    path.write_text(json.dumps(problem), encoding="utf-8")

    completed = _run("--input", str(path), "--policy", "optimal")

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == "CommandError: projects[3].request.h800.2026Q2: negative hours\n"


def test_allocate_process_prints_result(problem_file):
    completed = _run("--input", str(problem_file), "--policy", "tiers")

    # Tier >= 4.0: P1 + P2 overrun h800 2026Q1 (110 > 100), P2 dropped, P1 full; tier >= 3.0: P3 and P4 cannot
    # reach P3's min_share 1 together (h800 2026Q1 40 / 50) nor P3 alone: both dropped. Objective 4.5.
    assert (completed.returncode, completed.stderr) == (0, "")
    assert json.loads(completed.stdout)["objective"] == 4.5
