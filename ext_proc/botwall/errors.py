"""Every error botwall expects (a bad config, model, data file, Envoy option or local stack), and the typed reader
that raises config errors: the ground floor, importing nothing of botwall.

Each is a `BotwallError`, which the CLI's one boundary turns into a single line on stderr (`botwall: <what>: ...`)
and exit status 2; anything else is a bug and keeps its traceback. Domain code raises them; nothing else catches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BotwallError(Exception):
    """An error the operator can fix (the message says how); `what` prefixes it in the CLI's one-line message."""

    what = ""


class UsageError(BotwallError, ValueError):
    """Command-line arguments that cannot work (a port out of range, one already in use...)."""


class ModelError(BotwallError, ValueError):
    """A model file that cannot be served: unreadable, not ONNX, or trained on another feature schema."""

    what = "invalid model"


class EnvoyConfigError(BotwallError, ValueError):
    """Options that cannot make a valid Envoy config."""


class StackError(BotwallError, RuntimeError):
    """A piece of the local stack (`botwall up`) that cannot be found or started; the message carries its log."""


class ConfigError(BotwallError, ValueError):
    """A config file that cannot be used; the message says where and what was expected."""

    what = "invalid config"

    def __init__(self, source: str, key: str, expected: str, got: object = None, *, show_got: bool = True) -> None:
        where = f"{source}: {key}" if key else source
        message = f"{where}: expected {expected}"
        if show_got:
            message += f", got {got!r}"
        super().__init__(message)
        self.source = source
        self.key = key


class Reader:
    """Typed accessors for loaded YAML that raise ConfigError naming the source and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: object = None, *, show_got: bool = True) -> ConfigError:
        return ConfigError(self.source, key, expected, got, show_got=show_got)

    def mapping(self, value: object, key: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, "a mapping", value)
        for name in value:
            if name not in allowed:
                child = f"{key}.{name}" if key else str(name)
                raise self.fail(child, f"one of the keys {sorted(allowed)} (unknown key)", show_got=False)
        return value

    def integer(self, value: object, key: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"an integer from {low} to {high}", value)
        return value

    def number(self, value: object, key: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(key, f"a number from {low} to {high}", value)
        return float(value)

    def boolean(self, value: object, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def string(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, "a non-empty string", value)
        return value
