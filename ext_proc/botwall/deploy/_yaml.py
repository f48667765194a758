"""YAML with comments, for the configs botwall renders: PyYAML writes no comments, so this writes the block
structure itself and leaves every scalar (and every short flow collection) to PyYAML, which quotes it correctly.

A comment is attached by where it goes: a path suffix of mapping keys and list items, where a list item that is a
mapping with a `name` is called by that name (`("http_filters", "envoy.filters.http.ext_proc", "stat_prefix")`) and
any other by its index. It is written above the key or item, at its indentation, where the suffix first matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

Path = tuple[str | int, ...]
WIDTH = 120
_INDENT = "  "


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing a string with a line break double-quoted on one line (`"ok\\n"`)."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if "\n" in data:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_Dumper.add_representer(str, _Dumper.represent_str)


def _text(value: Any, *, flow: bool) -> str:
    text: str = yaml.dump(
        value, Dumper=_Dumper, default_flow_style=flow, width=1_000_000, sort_keys=False, allow_unicode=True
    )
    return text.strip().removesuffix("\n...")


def _scalar(value: Any) -> str:
    return _text(value, flow=False)


def _leaf(value: Any) -> bool:
    return not isinstance(value, dict | list) or not value


def _flow(value: dict[str, Any] | list[Any], room: int) -> str | None:
    """A short collection of scalars on one line (`{address: 127.0.0.1, port_value: 8080}`), if it fits."""
    children = value.values() if isinstance(value, dict) else value
    if not all(_leaf(v) for v in children) or (isinstance(value, dict) and "@type" in value):
        return None
    text = _text(value, flow=True)
    return text if len(text) <= room else None


def _item_name(item: Any, index: int) -> str | int:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return str(item["name"])
    return index


class _Writer:
    def __init__(self, comments: Mapping[Path, str]) -> None:
        self.comments = comments
        self.written: set[Path] = set()
        self.lines: list[str] = []

    def matches(self, path: Path) -> list[Path]:
        """The comment suffixes that `path` ends with, and that are still to be written."""
        return [
            s
            for s in self.comments
            if s not in self.written and len(s) <= len(path) and path[len(path) - len(s) :] == s
        ]

    def comment(self, path: Path, indent: str) -> None:
        for suffix in self.matches(path):
            self.written.add(suffix)
            self.lines += [f"{indent}# {line}".rstrip() for line in self.comments[suffix].splitlines()]

    def mapping(self, value: dict[str, Any], path: Path, indent: str, first: str | None = None) -> None:
        """Each key on its own line; `first` is what the first line starts with (a list item's dash)."""
        for key, child in value.items():
            lead = indent if first is None else first
            if first is None:
                self.comment((*path, key), indent)
            first = None
            self.entry(f"{lead}{_scalar(key)}:", child, (*path, key), indent)

    def entry(self, head: str, child: Any, path: Path, indent: str) -> None:
        if _leaf(child):
            self.lines.append(f"{head} {_scalar(child)}")
            return
        flow = _flow(child, WIDTH - len(head) - 1)
        if flow is not None and not (isinstance(child, dict) and any(self.matches((*path, k)) for k in child)):
            self.lines.append(f"{head} {flow}")
        elif isinstance(child, dict):
            self.lines.append(head)
            self.mapping(child, path, indent + _INDENT)
        else:
            self.lines.append(head)
            self.sequence(child, path, indent)

    def sequence(self, value: list[Any], path: Path, indent: str) -> None:
        """Items at the key's own indentation (`- `), as PyYAML and Envoy's examples write them."""
        for index, item in enumerate(value):
            item_path = (*path, _item_name(item, index))
            self.comment(item_path, indent)
            flow = _flow(item, WIDTH - len(indent) - 2) if isinstance(item, dict) and item else None
            if flow is not None and not any(self.matches((*item_path, k)) for k in item):
                self.lines.append(f"{indent}- {flow}")
            elif isinstance(item, dict) and item:
                first_key = next(iter(item))
                self.comment((*item_path, first_key), indent)
                self.mapping(item, item_path, indent + _INDENT, first=f"{indent}- ")
            elif isinstance(item, list) and item:
                flow = _flow(item, WIDTH - len(indent) - 2)
                if flow is None:
                    raise ValueError(f"a list in a list at {item_path} must fit on one line")
                self.lines.append(f"{indent}- {flow}")
            else:
                self.lines.append(f"{indent}- {_scalar(item)}")


def dump(
    data: Mapping[str, Any],
    comments: Mapping[Path, str] | None = None,
    *,
    header: str = "",
    spaced: bool = False,
    gap: bool = True,
) -> str:
    """`data` as block YAML with `comments` above the keys they name, `header` as a comment block on top (and with
    `gap`, a blank line after it), and with `spaced`, a blank line between top-level keys."""
    writer = _Writer(comments or {})
    writer.lines += [f"# {line}".rstrip() for line in header.strip("\n").splitlines()]
    if header and data and gap:
        writer.lines.append("")
    for index, (key, value) in enumerate(data.items()):
        if spaced and index:
            writer.lines.append("")
        writer.comment((key,), "")
        writer.entry(f"{_scalar(key)}:", value, (key,), "")
    return "\n".join(writer.lines) + "\n"


def dump_all(documents: Sequence[tuple[str, Mapping[str, Any], Mapping[Path, str]]], *, header: str = "") -> str:
    """Several documents, each `(its leading comment, data, comments)`, separated by `---`."""
    parts = [dump({}, header=header).removesuffix("\n") if header else ""]
    for lead, data, comments in documents:
        parts.append("---\n" + dump(data, comments, header=lead, gap=False).removesuffix("\n"))
    return "\n".join(p for p in parts if p) + "\n"
