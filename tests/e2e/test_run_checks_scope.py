"""What checks leave behind: files a check writes outside the phase's scope are put back before the
commit (and reported); only the phase's own change is committed."""

from __future__ import annotations

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, PYTEST, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow

LITTER = "echo generated > generated.txt && echo '# touched by a check' >> README.md && mkdir -p out && echo x > out/report.txt"


def test_files_a_check_writes_outside_the_scope_are_not_committed(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply", checks=[PYTEST, LITTER])])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])

    result = ap.run("r1", plan, script)

    assert result.returncode == 0, result.output
    (commit,) = ap.commits("r1")
    assert sorted(commit.stats.files) == ["calc.py", "tests/test_calc.py"]
    assert ap.show("r1", "README.md") == "# calc\n\nA tiny calculator.\n"
    noted = [e for e in ap.events("r1", "phase_state") if e.data.get("discarded_out_of_scope")]
    assert sorted(noted[0].data["discarded_out_of_scope"]) == ["README.md", "generated.txt", "out/report.txt"]
    assert "outside the phase scope were put back" in result.stdout
