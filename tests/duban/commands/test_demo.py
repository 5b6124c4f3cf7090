"""``duban demo`` runs end to end on the embedded defaults."""

from __future__ import annotations

from duban.cli import main


def test_demo_prints_worked_examples_and_refuses_uncovered_year(capsys):
    assert main(["demo", "--deadlines-only"]) == 0
    out = capsys.readouterr().out
    assert "2024年2月22日" in out  # Sat 2024-02-10 + 5 working days (event day not counted)
    assert "2026年10月13日" in out
    assert "缺少 2027" in out  # 2026-12-25 + 5 lands in 2027: refused, not guessed


def test_cli_prints_user_errors_as_one_sentence_without_traceback(capsys):
    code = main(["due", "5个工作日内", "--from", "2026-12-25"])
    err = capsys.readouterr().err
    assert code == 2
    assert "2027" in err and "Traceback" not in err
