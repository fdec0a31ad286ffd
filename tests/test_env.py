"""Settings read from the environment: every kind accepts the ``<NAME>_FILE`` form, and a
value that cannot be read says which variable and why instead of being taken as false."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)],
)
def test_booleans_in_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("TESSERA_FLAG", raw)
    assert env_bool("TESSERA_FLAG") is expected


def test_a_boolean_that_is_neither_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("TESSERA_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="TESSERA_FLAG must be true or false"):
        env_bool("TESSERA_FLAG")


def test_unset_values_fall_back_to_their_defaults(monkeypatch):
    for name in ("TESSERA_FLAG", "TESSERA_FLAG_FILE", "TESSERA_COUNT", "TESSERA_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    assert env_bool("TESSERA_FLAG", default=True) is True
    assert env_int("TESSERA_COUNT", 7) == 7
    assert env_list("TESSERA_HOSTS", ["a"]) == ["a"]


def test_every_kind_reads_a_file_named_by_name_file(monkeypatch, tmp_path):
    values = {"TESSERA_FLAG": "yes\n", "TESSERA_COUNT": "42\n", "TESSERA_HOSTS": "a.test, b.test\n"}
    for name, content in values.items():
        secret = tmp_path / name
        secret.write_text(content)
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(f"{name}_FILE", str(secret))
    assert env_bool("TESSERA_FLAG") is True
    assert env_int("TESSERA_COUNT", 0) == 42
    assert env_list("TESSERA_HOSTS") == ["a.test", "b.test"]
    assert env_str("TESSERA_COUNT") == "42"


def test_a_bad_number_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("TESSERA_COUNT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="TESSERA_COUNT must be a whole number"):
        env_int("TESSERA_COUNT", 0)
