"""Every setting of the web app, documented once, read from ``WEBUI_*`` variables.

Settings come from the process environment and, optionally, from a file of ``KEY=VALUE`` lines
named by ``WEBUI_SETTINGS_FILE`` (the environment wins, so one machine can override a shared
file). They are validated once at start-up: a deployment with a typo or a missing secret fails
before it serves a single request, with a message naming the setting to fix.
"""

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "WEBUI_"
SETTINGS_FILE_VARIABLE = "WEBUI_SETTINGS_FILE"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
DEFAULT_PORTS = {"http": 80, "https": 443}
DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite")
# PostgreSQL hosts reached without crossing a network: only they may go without verified TLS.
LOCAL_DATABASE_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable so an operator can fix it."""


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class Settings:
    """The web app's configuration. Field ``x`` is read from the variable ``WEBUI_X``."""

    ollama_url: str = field(
        default="http://127.0.0.1:11434",
        metadata=_doc(
            "Base URL of Ollama or of the authenticating TLS gateway in front of it; several "
            "(one per LLM machine) separated by spaces."
        ),
    )
    ollama_token: str = field(
        default="", repr=False, metadata=_doc("Bearer token for the gateway (or use basic auth).")
    )
    ollama_username: str = field(
        default="", metadata=_doc("Basic-auth user for the gateway; needs the password too.")
    )
    ollama_password: str = field(default="", repr=False, metadata=_doc("Basic-auth password."))
    ollama_ca_bundle: str = field(
        default="",
        metadata=_doc(
            "PEM file of the CAs that sign the gateways (concatenated); empty: the system CAs."
        ),
    )
    connect_timeout: float = field(
        default=5.0, metadata=_doc("Seconds to wait for a connection to Ollama.")
    )
    read_timeout: float = field(
        default=120.0,
        metadata=_doc("Seconds to wait between two chunks from Ollama; cold loads are slow."),
    )
    models_cache_seconds: float = field(
        default=5.0,
        metadata=_doc("How long the list of models each LLM machine serves is reused, in seconds."),
    )
    backend_hold_seconds: float = field(
        default=5.0,
        metadata=_doc("How long an LLM machine whose connection failed is left out, in seconds."),
    )
    default_model: str = field(
        default="", metadata=_doc("Model used when a request names none; empty: Ollama's first.")
    )
    require_login: bool = field(
        default=True, metadata=_doc("Whether users must log in; turn off for local development.")
    )
    session_ttl_seconds: int = field(
        default=8 * 3600,
        metadata=_doc("How long a login lasts at most, in seconds, however active it is."),
    )
    session_idle_seconds: int = field(
        default=1800,
        metadata=_doc("How long an unused login lasts, in seconds (checked to the minute)."),
    )
    database_url: str = field(
        default="",
        metadata=_doc(
            "The database: postgresql://USER@HOST:PORT/NAME?sslmode=verify-full&sslrootcert=CA "
            "(shared by every web machine; the password goes in WEBUI_DATABASE_PASSWORD), or "
            "sqlite:///ABSOLUTE/PATH for one machine. Empty is allowed with login off only: "
            "conversations are then kept in memory until the app stops."
        ),
    )
    database_password: str = field(
        default="", repr=False, metadata=_doc("Password of the PostgreSQL user in the URL.")
    )
    history_turns: int = field(
        default=20,
        metadata=_doc("How many earlier turns of a conversation the model gets as context."),
    )
    node_name: str = field(
        default_factory=socket.gethostname,
        metadata=_doc("Name of this web machine, shown to users (default: the hostname)."),
    )
    max_body_bytes: int = field(
        default=16384, metadata=_doc("Largest request body accepted; larger ones get 413.")
    )
    max_question_chars: int = field(
        default=4000, metadata=_doc("Longest question accepted, in characters; longer: 413.")
    )
    trust_proxy: bool = field(
        default=False,
        metadata=_doc("Believe X-Forwarded-Proto/-Host/-For (only behind our own HAProxy)."),
    )
    login_max_failures: int = field(
        default=5, metadata=_doc("Failed logins per user or client address before 429.")
    )
    login_window_seconds: int = field(
        default=300, metadata=_doc("Window, in seconds, over which failed logins are counted.")
    )

    @property
    def ollama_urls(self) -> tuple[str, ...]:
        """Every gateway's base URL, in the configured order (``WEBUI_OLLAMA_URL`` holds them)."""
        return tuple(self.ollama_url.split())


def variable_name(name: str) -> str:
    """The environment variable that carries the field ``name``."""
    return PREFIX + name.upper()


def documentation() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, so help text has one source."""
    rows = []
    for f in dataclasses.fields(Settings):
        default = "(hostname)" if f.default is dataclasses.MISSING else str(f.default)
        rows.append((variable_name(f.name), default, f.metadata["doc"]))
    return rows


def parse_settings_file(text: str, source: str) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SettingsError(f"{source}:{number}: expected KEY=VALUE, got {line[:40]!r}")
        values[key.strip()] = value.strip()
    return values


def raw_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """Merge the optional settings file with the ``WEBUI_*`` variables (the environment wins)."""
    merged: dict[str, str] = {}
    path = environ.get(SETTINGS_FILE_VARIABLE, "")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                merged.update(parse_settings_file(handle.read(), path))
        except OSError as exc:
            raise SettingsError(f"{SETTINGS_FILE_VARIABLE}: cannot read {path}: {exc}") from exc
    merged.update({k: v for k, v in environ.items() if k.startswith(PREFIX)})
    merged.pop(SETTINGS_FILE_VARIABLE, None)
    return merged


def _convert(variable: str, kind: Any, text: str) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(f"{variable} must be true or false, got {text!r}")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise SettingsError(f"{variable} must be a number, got {text!r}") from None
    return text


def _gateway_key(url: str) -> tuple[str, str, int, str]:
    """What makes two gateway URLs one gateway: neither case nor an explicit default port."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        raise SettingsError(f"WEBUI_OLLAMA_URL: the port of {url!r} is not a number") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise SettingsError(
            f"WEBUI_OLLAMA_URL must hold http:// or https:// URLs with a host, got {url!r}"
        )
    if parts.username or parts.password:
        # Credentials in a URL end up in logs; they have their own settings.
        raise SettingsError(
            "WEBUI_OLLAMA_URL must not contain credentials; use WEBUI_OLLAMA_TOKEN "
            "or WEBUI_OLLAMA_USERNAME and WEBUI_OLLAMA_PASSWORD"
        )
    return parts.scheme, parts.hostname.lower(), port, parts.path.rstrip("/")


def _check_urls(urls: tuple[str, ...]) -> None:
    """Every gateway URL valid, and none twice: a gateway listed twice would get double load."""
    if not urls:
        raise SettingsError("WEBUI_OLLAMA_URL must name at least one URL")
    seen: dict[tuple[str, str, int, str], str] = {}
    for url in urls:
        key = _gateway_key(url)
        if key in seen:
            raise SettingsError(f"WEBUI_OLLAMA_URL names one gateway twice: {seen[key]} and {url}")
        seen[key] = url


def _check_database_url(url: str) -> None:
    """A URL the store can open, without a password, and with verified TLS over any network."""
    parts = urlsplit(url)
    if parts.scheme not in DATABASE_SCHEMES:
        raise SettingsError(
            f"WEBUI_DATABASE_URL must start with postgresql:// or sqlite:///, got {parts.scheme}://"
            if parts.scheme
            else "WEBUI_DATABASE_URL must start with postgresql:// or sqlite:///"
        )
    if parts.scheme == "sqlite":
        if (
            parts.netloc
            or parts.query
            or not parts.path.startswith("/")
            or parts.path.endswith("/")
        ):
            raise SettingsError("WEBUI_DATABASE_URL must be sqlite:///ABSOLUTE/PATH for SQLite")
        return
    query = parse_qs(parts.query)
    if parts.password or "password" in query:
        # The URL is logged and shown; the password has its own setting.
        raise SettingsError(
            "WEBUI_DATABASE_URL must not contain a password; use WEBUI_DATABASE_PASSWORD"
        )
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise SettingsError("WEBUI_DATABASE_URL: the port is not a number") from None
    host = query.get("host", [host])[-1]
    # libpq would otherwise look for the CA in the home directory, which the app's user has not.
    verified = query.get("sslmode", [""])[-1] == "verify-full" and "sslrootcert" in query
    if not verified and not (host in LOCAL_DATABASE_HOSTS or host.startswith("/")):
        raise SettingsError(
            f"WEBUI_DATABASE_URL: the database on {host} is reached over a network, so it needs "
            "sslmode=verify-full and sslrootcert=CA_FILE"
        )
    for ca in query.get("sslrootcert", []):
        # "system" is libpq's name for the system's CA store.
        if ca != "system" and not os.path.isfile(ca):
            raise SettingsError(f"WEBUI_DATABASE_URL: no such sslrootcert file {ca}")


def _check(settings: Settings) -> None:
    _check_urls(settings.ollama_urls)
    if settings.ollama_token and settings.ollama_username:
        raise SettingsError("set WEBUI_OLLAMA_TOKEN or WEBUI_OLLAMA_USERNAME, not both")
    if bool(settings.ollama_username) != bool(settings.ollama_password):
        raise SettingsError("WEBUI_OLLAMA_USERNAME and WEBUI_OLLAMA_PASSWORD go together")
    if settings.ollama_ca_bundle and not os.path.isfile(settings.ollama_ca_bundle):
        raise SettingsError(f"WEBUI_OLLAMA_CA_BUNDLE: no such file {settings.ollama_ca_bundle}")
    for name in (
        "connect_timeout",
        "read_timeout",
        "session_ttl_seconds",
        "session_idle_seconds",
        "max_body_bytes",
        "max_question_chars",
        "login_max_failures",
        "login_window_seconds",
        "models_cache_seconds",
        "backend_hold_seconds",
    ):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{variable_name(name)} must be greater than zero")
    if not settings.node_name:
        raise SettingsError("WEBUI_NODE_NAME must not be empty")
    if settings.history_turns < 0:
        raise SettingsError("WEBUI_HISTORY_TURNS must be zero or more")
    if settings.database_url:
        _check_database_url(settings.database_url)
    elif settings.require_login:
        raise SettingsError("WEBUI_DATABASE_URL is required when WEBUI_REQUIRE_LOGIN is true")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings; unknown ``WEBUI_*`` names are refused because they are typos."""
    raw = raw_settings(os.environ if environ is None else environ)
    fields = {variable_name(f.name): f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]}; known: {', '.join(sorted(fields))}")
    kinds = {f.name: f.type for f in dataclasses.fields(Settings)}
    values = {
        fields[var].name: _convert(var, kinds[fields[var].name], text) for var, text in raw.items()
    }
    settings = Settings(**values)
    _check(settings)
    return settings
