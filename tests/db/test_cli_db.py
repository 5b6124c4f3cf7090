"""``duban db upgrade|current|downgrade`` (the lead registers the sub-app as ``duban db``)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from db import migrate
from duban.commands.db import app
from duban.errors import UserError

runner = CliRunner()


def test_upgrade_current_and_downgrade_report_revisions(db_url: str) -> None:
    head = migrate.head()
    result = runner.invoke(app, ["current", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert "base" in result.output
    assert "有待执行的迁移" not in result.output

    result = runner.invoke(app, ["upgrade", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert f"→ {head} (head)" in result.output
    assert migrate.current(db_url) == head

    result = runner.invoke(app, ["upgrade", "--url", db_url])
    assert "已是最新" in result.output

    result = runner.invoke(app, ["current", "--url", db_url])
    assert f"{head} (head)" in result.output

    result = runner.invoke(app, ["downgrade", "base", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert migrate.current(db_url) is None


def test_url_comes_from_the_environment_when_not_given(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", db_url)
    result = runner.invoke(app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert migrate.current(db_url) == migrate.head()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_unknown_revision_is_one_readable_sentence(db_url: str) -> None:
    result = runner.invoke(app, ["upgrade", "nonexistent", "--url", db_url])
    assert isinstance(result.exception, UserError)
    message = str(result.exception)
    assert "\n" not in message
    assert "nonexistent" in message
    assert result.exception.exit_code == 2


def test_unreachable_server_is_one_readable_sentence_without_the_password() -> None:
    url = "postgresql://duban:s3cret@127.0.0.1:1/duban"
    result = runner.invoke(app, ["current", "--url", url])
    assert isinstance(result.exception, UserError)
    message = str(result.exception)
    assert "\n" not in message
    assert "s3cret" not in message
    assert "127.0.0.1" in message
