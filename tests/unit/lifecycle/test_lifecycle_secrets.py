"""The topology's secrets: generated once, owner-only, never replaced."""

import stat
from pathlib import Path

from lifecycle import secrets


def test_new_file_is_owner_only_with_every_secret(tmp_path: Path) -> None:
    """A first `up` writes all four secrets into a 0600 file."""
    path = tmp_path / "secrets.yml"
    secrets.ensure(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = secrets.read(path)
    assert sorted(values) == sorted(secrets.NAMES)
    assert all(len(value) >= 40 for value in values.values())
    assert path.read_text().startswith("---\n")


def test_existing_values_stay_and_missing_ones_are_added(tmp_path: Path) -> None:
    """A file from before a secret existed gets it added; the values it holds stay."""
    path = tmp_path / "secrets.yml"
    path.write_text('---\nvault_webapp_admin_password: "kept-value"\n')
    path.chmod(0o600)
    secrets.ensure(path)
    values = secrets.read(path)
    assert values["vault_webapp_admin_password"] == "kept-value"
    assert sorted(values) == sorted(secrets.NAMES)


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    """Running it again keeps the file byte for byte."""
    path = tmp_path / "secrets.yml"
    secrets.ensure(path)
    before = path.read_text()
    secrets.ensure(path)
    assert path.read_text() == before


def test_a_value_in_another_form_is_not_added_twice(tmp_path: Path) -> None:
    """A secret set by hand, in a form this module does not write, still counts as present."""
    path = tmp_path / "secrets.yml"
    path.write_text("---\nvault_llm_gateway_token: 'single quoted'\n")
    secrets.ensure(path)
    assert path.read_text().count("vault_llm_gateway_token") == 1
