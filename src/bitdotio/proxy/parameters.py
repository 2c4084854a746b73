"""Startup parameters: which the endpoint forwards, and the strict parse of ``options``.

Identity never comes from them: ``user`` is ignored (the key is the identity) and ``database``
is routed. Everything else passes an allowlist of ordinary session settings, at the top level
or as ``-c name=value`` / ``--name=value`` inside ``options``; a setting that would change
identity, limits or loaded libraries (``role``, ``session_preload_libraries``, ``work_mem``,
``temp_file_limit``...) and ``replication`` are refused with a clear error (security.md §3
row 10). Settings a tenant may change with ``SET`` anyway, such as ``statement_timeout``, pass.
"""

from __future__ import annotations

from bitdotio.errors import BitError

__all__ = ["ALLOWED_SETTINGS", "forwarded_parameters", "split_options"]

ALLOWED_SETTINGS = frozenset(
    {
        "application_name",
        "bytea_output",
        "client_encoding",
        "client_min_messages",
        "datestyle",
        "default_transaction_isolation",
        "default_transaction_read_only",
        "extra_float_digits",
        "idle_in_transaction_session_timeout",
        "intervalstyle",
        "lc_monetary",
        "lc_numeric",
        "lc_time",
        "lock_timeout",
        "search_path",
        "standard_conforming_strings",
        "statement_timeout",
        "timezone",
    }
)
_ROUTING = frozenset({"user", "database"})
_MAX_VALUE = 1024


def _refuse(name: str) -> BitError:
    shown = name if name.isprintable() and len(name) <= 64 else repr(name[:64])
    return BitError(
        "BIT508",
        f'parameter "{shown}" cannot be set at connection time through the bit.io endpoint',
    )


def split_options(options: str) -> list[str]:
    """Postgres's own splitting of ``options``: whitespace separates, backslash escapes."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    chars = iter(options)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
            in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def _settings_from_options(options: str) -> list[tuple[str, str]]:
    words = split_options(options)
    settings: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c":
            if i + 1 >= len(words):
                raise BitError("BIT508", 'option "-c" in "options" needs name=value')
            settings.append(words[i + 1])
            i += 2
        elif word.startswith(("-c", "--")):
            settings.append(word[2:])
            i += 1
        else:
            raise _refuse(word)
    pairs: list[tuple[str, str]] = []
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or not name:
            raise BitError("BIT508", f'invalid setting "{setting[:64]}" in "options"')
        pairs.append((name.replace("-", "_"), value))
    return pairs


def forwarded_parameters(params: dict[str, str]) -> dict[str, str]:
    """The parameters to send upstream, or BIT508 for the first one that may not pass."""
    forwarded: dict[str, str] = {}
    pairs = [(name, value) for name, value in params.items() if name not in _ROUTING]
    options = dict(pairs).pop("options", None)
    pairs = [(name, value) for name, value in pairs if name != "options"]
    if options is not None:
        pairs += _settings_from_options(options)
    for name, value in pairs:
        if name.lower() not in ALLOWED_SETTINGS:
            raise _refuse(name)
        if len(value) > _MAX_VALUE:
            raise BitError(
                "BIT508", f'value of parameter "{name}" is longer than {_MAX_VALUE} characters'
            )
        forwarded[name] = value
    return forwarded
