from pathlib import Path

import pytest
from pydantic import ValidationError

from agora.platform.settings import DEVELOPMENT_SECRET, PlatformSettings, SecretFileError, load_settings
from tests.support.probe import ProbeSettings


def test_development_accepts_the_development_secret() -> None:
    settings = PlatformSettings(environment="development")
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_default_secret_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="AGORA_SECRET_KEY must be set"):
        PlatformSettings(environment=environment)


def test_short_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="strong secret"):
        PlatformSettings(environment="production", secret_key="short")


def test_env_prefix_and_nested_service_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_BROKER_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("AGORA_SERVICE_URLS__CATALOG", "http://127.0.0.1:8101")
    settings = load_settings(PlatformSettings)
    assert settings.broker_url == "nats://127.0.0.1:4222"
    assert settings.service_urls == {"catalog": "http://127.0.0.1:8101"}


def test_secret_files_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s" * 40
    (tmp_path / "AGORA_SECRET_KEY").write_text(secret)
    (tmp_path / "AGORA_SERVICE_SECRET").write_text("t" * 40)
    monkeypatch.setenv("AGORA_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")
    settings = load_settings(PlatformSettings)
    assert settings.secret_key.get_secret_value() == secret
    assert settings.service_secret.get_secret_value() == "t" * 40


def test_service_prefix_is_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGORA_PROBE_DATABASE_URL", "postgresql+asyncpg://db/probe")
    monkeypatch.setenv("AGORA_DATABASE_URL", "sqlite+aiosqlite:///ignored.db")
    assert load_settings(ProbeSettings).database_url == "postgresql+asyncpg://db/probe"
    monkeypatch.delenv("AGORA_PROBE_DATABASE_URL")
    default = load_settings(ProbeSettings).resolved_database_url(PlatformSettings(data_dir=tmp_path))
    assert default == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'probe.db'}"


def test_a_service_prefix_follows_from_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.registry import service_specs

    for spec in service_specs():
        monkeypatch.setenv(f"AGORA_{spec.name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{spec.name}.db")
    for spec in service_specs():
        settings = spec.settings_cls()
        assert settings.database_url == f"sqlite+aiosqlite:///{spec.name}.db", spec.name
        assert spec.settings_cls.model_config["env_prefix"] == f"AGORA_{spec.name.upper()}_"


def _production_secrets(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "AGORA_SECRET_KEY").write_text("s" * 40)
    (folder / "AGORA_SERVICE_SECRET").write_text("t" * 40)
    monkeypatch.setenv("AGORA_SECRETS_DIR", str(folder))
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")


def test_a_missing_secret_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _production_secrets(tmp_path, monkeypatch)
    (tmp_path / "AGORA_SERVICE_SECRET").unlink()
    with pytest.raises(ValidationError, match=f"the secret file {tmp_path / 'AGORA_SERVICE_SECRET'} is missing"):
        load_settings(PlatformSettings)


def test_a_short_secret_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _production_secrets(tmp_path, monkeypatch)
    (tmp_path / "AGORA_SECRET_KEY").write_text("too-short\n")
    with pytest.raises(ValidationError, match=f"check the secret file {tmp_path / 'AGORA_SECRET_KEY'}"):
        load_settings(PlatformSettings)


@pytest.mark.parametrize("broken", ["empty", "directory"])
def test_an_empty_or_odd_secret_file_is_named(broken: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_SECRETS_DIR", str(tmp_path))
    if broken == "empty":
        (tmp_path / "agora_secret_key").write_text("\n")
    else:
        (tmp_path / "AGORA_SECRET_KEY").mkdir()
    with pytest.raises(SecretFileError, match=f"the secret file {tmp_path}/(?i:agora_secret_key) is"):
        load_settings(PlatformSettings)


def test_a_secrets_dir_that_is_not_a_directory_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_SECRETS_DIR", str(tmp_path / "not-mounted"))
    with pytest.raises(SecretFileError, match="not-mounted is not a directory"):
        load_settings(PlatformSettings)


def test_the_database_password_comes_from_its_own_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _production_secrets(tmp_path, monkeypatch)
    monkeypatch.setenv("AGORA_PROBE_DATABASE_URL", "postgresql+asyncpg://probe@db:5432/probe")
    platform = load_settings(PlatformSettings)
    with pytest.raises(
        SecretFileError, match=f"the secret file {tmp_path / 'AGORA_PROBE_DATABASE_PASSWORD'} is missing"
    ):
        load_settings(ProbeSettings).resolved_database_url(platform)
    (tmp_path / "AGORA_PROBE_DATABASE_PASSWORD").write_text("p@ss/word\n")
    url = load_settings(ProbeSettings).resolved_database_url(platform)
    assert url == "postgresql+asyncpg://probe:p%40ss%2Fword@db:5432/probe"
