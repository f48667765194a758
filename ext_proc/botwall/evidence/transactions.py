"""Transactions: the business operations a fraud team reviews (a loan application, an account opening, a payout).

A transaction route is scored like any request, with the client's whole history, and then tagged for the upstream
with its risk (`x-botwall-risk`), its reasons and its campaign, and sent as an event to the webhooks and the decision
log, so a fraud platform reviews only the risky ones. Being a transaction refuses nobody: only a policy does.

Body fields named in the config (an applicant's e-mail, phone or national id) are read for velocity checks: the same
details from many clients (`txn:details-many-clients`), many different applicants from one client
(`txn:client-many-applicants`). A value lives only inside `read_transaction`, normalised and turned into a keyed hash
(the engine's `KeyHasher`, as addresses and usernames are kept); it is never stored, logged or sent in the clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from botwall.evidence.behaviour import Distinct, add
from botwall.request import Match


@dataclass(frozen=True, slots=True)
class TransactionRoute:
    """A transaction endpoint, and the body fields whose values are checked for velocity (JSON: dotted paths)."""

    name: str
    match: Match
    format: str = "auto"  # "form", "json" or "auto" (by content-type)
    fields: tuple[str, ...] = ()  # none: the body is not read (Envoy is not asked for it)
    max_body_bytes: int = 65_536
    review_from: int = 0  # the risk from which it goes to the webhooks; 0: the suspect threshold


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction: its route's name and its fields' values as keyed hashes (fields absent from the body are
    left out). `parsed` is False when the body could not be read (malformed, over the bound, another format)."""

    route: str
    values: tuple[tuple[str, int], ...] = ()
    parsed: bool = True


# A field's value past this many characters is cut before it is hashed: nobody's e-mail or id is longer.
_MAX_VALUE = 1_024
# A form or JSON object with more fields than this is not an application form; it is read as unparsed.
MAX_FIELDS = 256


def read_transaction(
    route: TransactionRoute, content_type: str, body: bytes, keys: Callable[[str], int]
) -> Transaction:
    """The route's fields from the body, each value normalised (trimmed, case-folded, inner spaces collapsed) and
    hashed with `keys`; a body that cannot be read gives a Transaction with `parsed` False."""
    if not route.fields:
        return Transaction(route.name)
    kind = route.format
    if kind == "auto":
        kind = "json" if "json" in content_type else "form"
    if len(body) > route.max_body_bytes:
        return Transaction(route.name, parsed=False)
    try:
        text = body.decode("utf-8")
        found = _json_fields(route.fields, text) if kind == "json" else _form_fields(route.fields, text)
    except (ValueError, RecursionError):
        return Transaction(route.name, parsed=False)
    if found is None:
        return Transaction(route.name, parsed=False)
    values = tuple((name, keys(f"{route.name}|{name}|{_normalise(value)}")) for name, value in found if value)
    return Transaction(route.name, values)


def _normalise(value: str) -> str:
    return " ".join(value[:_MAX_VALUE].split()).casefold()


def _form_fields(names: tuple[str, ...], text: str) -> list[tuple[str, str]] | None:
    pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)  # ValueError past the bound
    first: dict[str, str] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    return [(name, first[name]) for name in names if name in first]


def _json_fields(names: tuple[str, ...], text: str) -> list[tuple[str, str]] | None:
    data = json.loads(text)  # RecursionError on nesting past the interpreter's depth
    if not isinstance(data, dict) or len(data) > MAX_FIELDS:
        return None
    out = []
    for name in names:
        node: object = data
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, bool) or node is None:
            continue
        if isinstance(node, (str, int, float)):
            out.append((name, str(node)))
        else:  # an object or list (an address): its canonical form
            out.append((name, json.dumps(node, sort_keys=True, separators=(",", ":"))[:_MAX_VALUE]))
    return out


@dataclass(slots=True)
class DetailWindow:
    """The clients that presented one value of one field of a route (an applicant's e-mail, say), over the state's
    window: many means the same details are being tried from many places."""

    clients: Distinct = b""


@dataclass(slots=True)
class ApplicantWindow:
    """One client's distinct applicants on one route (all the fields' values together), over the state's window."""

    applicants: Distinct = b""

    def observe(self, applicant: int) -> None:
        self.applicants = add(self.applicants, applicant)


# From how many clients one applicant detail is suspicious, and from how many applicants one client is.
DETAILS_MANY_CLIENTS = 3
CLIENT_MANY_APPLICANTS = 3


@dataclass(frozen=True, slots=True)
class Velocity:
    """What the velocity windows say about one transaction."""

    clients_per_detail: int  # the most clients any of its values was presented from
    applicants: int  # distinct applicants from its client

    def reasons(self, client_is_shared_address: bool) -> list[str]:
        out = []
        if self.clients_per_detail >= DETAILS_MANY_CLIENTS:
            out.append("txn:details-many-clients")
        # Counted per address for a client without botwall's cookie: behind a shared one, that is a crowd.
        if self.applicants >= CLIENT_MANY_APPLICANTS and not client_is_shared_address:
            out.append("txn:client-many-applicants")
        return out


def applicant_of(transaction: Transaction) -> int:
    """One hash for all of a transaction's values (its applicant); 0 when it has none."""
    combined = 0
    for _, value in transaction.values:
        combined = (combined * 1_000_003 + value) & 0xFFFF_FFFF_FFFF_FFFF
    return combined
