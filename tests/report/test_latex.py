"""The LaTeX leaderboard compiles in a booktabs document (pdflatex if installed), else is balanced."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from dabench.report import leaderboard as report
from dabench.report.leaderboard import latex_escape


def test_escaping() -> None:
    assert latex_escape("target_oracle 66.00 ± 1.41 (2) — 5% & #1") == \
        r"target\_oracle 66.00 $\pm$ 1.41 (2) --- 5\% \& \#1"


def _balanced(tex: str) -> None:
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} does not close the last \\begin"
    assert not stack
    depth = 0
    for char in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert tex.count("$") % 2 == 0


def test_latex_table_compiles(records, validators, tmp_path: Path) -> None:
    header, rows, bold = report.leaderboard(records, None, "accuracy", "oracle", validators)
    table = report.render(header, rows, "latex", bold)
    assert table.splitlines()[0] == r"\begin{tabular}{lrrr}" and r"\toprule" in table and r"\bottomrule" in table
    assert all(line.count("&") == 3 for line in table.splitlines() if line.endswith(r"\\"))
    document = ("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\begin{table}\n"
                f"{table}\n\\end{{table}}\n\\end{{document}}\n")
    _balanced(document)
    engine = shutil.which("pdflatex")
    if engine is None:
        return  # no LaTeX engine here: the balance check above is the test
    (tmp_path / "t.tex").write_text(document)
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "t.pdf").exists()
