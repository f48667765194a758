"""The shape of a site's real answers, per endpoint and status, learned from responses to people; and fake answers
drawn from it.

What is learned from each sampled response (`Observed`) to a request botwall allowed as a person's: the status, the
header names in their order (`set-cookie:<name>` for each cookie), each header's value format (`formats.Format`; an
HTTP date as its offset from the moment it was seen), each cookie's value format and attributes (an `Expires` date as
its offset), the upstream's latency, and, for the few responses whose body Envoy sent, the body's shape: a JSON body's
keys in order with their presence and value types (`JsonShape`: numbers as ranges, strings as formats, never values),
an HTML page's tags and text as a template (`HtmlShape`: the pages of one class share their sequence of tags; words
every sample agreed on stay, the others are slots).

A fake answer (`EndpointShape.fake`) takes a status by the learned distribution, the headers in the learned order
with fresh values (`date` now, `content-length` the fake body's, the upstream service time the delay botwall waits),
fresh cookie values, and a body synthesized from the shape. The body and the status are drawn from a generator seeded
by the request (method, host, path, query) under a deployment key, so a repeated request sees the same fake product
at the same price; cookie and other header values are drawn fresh for every answer, as a real site's are.

Bounded: `MAX_STATUSES` statuses, `MAX_HEADERS` header names, `MAX_COOKIES` cookies and `MAX_ORDERS` header orders per
endpoint; a JSON shape of `MAX_NODES` nodes, `MAX_KEYS` keys per object and `MAX_DEPTH` levels; `MAX_BODY` bytes of a
body read and `MAX_TOKENS` tokens of a page; the last `LATENCIES` latencies per endpoint (an upstream's time drifts).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botwall.deception.formats import MIN_CLIENTS, Format, number

MAX_STATUSES = 6
MAX_HEADERS = 32
MAX_COOKIES = 8
MAX_ORDERS = 8
MAX_NODES = 600
MAX_KEYS = 64
MAX_DEPTH = 8
MAX_BODY = 64 * 1024
MAX_TOKENS = 4000
MAX_PAGE_CLASSES = 4
LATENCIES = 64
PATHS = 256  # exact paths per endpoint whose status and size are remembered (a missing product stays a 404)
CANDIDATES = 24  # fake bodies drawn for a remembered path, the one nearest its real size kept
FAKES = 128  # fake bodies kept per endpoint: a path's fake is drawn once and then stays what it was

# Computed for each fake answer rather than learned; hop-by-hop headers and the encoding are never copied (a fake body
# is sent as it is, uncompressed).
_COMPUTED = frozenset({"content-length", "date", "x-envoy-upstream-service-time"})
_SKIPPED = frozenset({"transfer-encoding", "connection", "keep-alive", "content-encoding", "trailer", "upgrade"})
# Headers whose value depends on the resource, not the answer: drawn from the request's seed.
_PER_RESOURCE = frozenset({"etag", "last-modified", "content-type", "content-language", "location"})
_TOKEN = re.compile(r"<[^>]*>|[^<]+")
_EXPIRES = re.compile(r"(?i)(;\s*expires=)([^;]*)")


def http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), or None."""
    if not value.endswith("GMT") or len(value) > 40:
        return None
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed))


def format_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


@dataclass(frozen=True, slots=True)
class Observed:
    """One real response as botwall saw it in the response phase."""

    status: int
    headers: tuple[tuple[str, str], ...]  # names lower-case, in order, pseudo-headers left out
    latency: float  # seconds from botwall's answer to the request to the response's headers
    client: int  # a keyed hash of the client (its botwall cookie, else its address)
    now: float  # wall-clock time it was seen
    body: bytes | None = None  # the body, when Envoy sent it (complete only when `complete`)
    complete: bool = True
    path: str = ""  # the request's path (values that repeat one of its segments are learned as such)


@dataclass(frozen=True, slots=True)
class Fake:
    """A synthesized answer: what Envoy sends the client instead of the upstream's."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay: float  # seconds to wait before answering (the upstream's learned latency)


@dataclass(slots=True)
class ValueShape:
    """A header value, or a cookie's attributes: a format, or an HTTP date as an offset from when it was seen."""

    format: Format = field(default_factory=Format)
    dates: int = 0
    offsets: list[float] = field(default_factory=list)  # seconds from the moment seen (bounded)

    def observe(self, value: str, client: int, now: float) -> None:
        when = http_date(value)
        if when is not None:
            self.dates += 1
            if len(self.offsets) < 32:
                self.offsets.append(when - now)
        self.format.observe(value, client)

    def synthesize(self, rng: random.Random, now: float) -> str:
        if self.dates and self.dates == self.format.samples:
            offsets = sorted(self.offsets)
            return format_date(now + offsets[len(offsets) // 2])
        return self.format.synthesize(rng)


@dataclass(slots=True)
class CookieShape:
    """One cookie a response sets: its value's format, and its attributes (an `Expires` date as an offset)."""

    value: Format = field(default_factory=Format)
    attributes: Format = field(default_factory=Format)
    expires: list[float] = field(default_factory=list)

    def observe(self, value: str, attributes: str, client: int, now: float) -> None:
        self.value.observe(value, client)
        match = _EXPIRES.search(attributes)
        if match is not None:
            when = http_date(match.group(2).strip())
            if when is not None and len(self.expires) < 32:
                self.expires.append(when - now)
            attributes = _EXPIRES.sub(r"\1@", attributes)
        self.attributes.observe(attributes, client)

    def synthesize(self, name: str, rng: random.Random, now: float) -> str:
        attributes = self.attributes.synthesize(rng)
        if "@" in attributes and self.expires:
            offsets = sorted(self.expires)
            attributes = attributes.replace("@", format_date(now + offsets[len(offsets) // 2]), 1)
        return f"{name}={self.value.synthesize(rng)}{attributes}"


def split_cookie(header: str) -> tuple[str, str, str]:
    """A Set-Cookie value as (name, value, the attributes from the first `;` on)."""
    pair, semicolon, attributes = header.partition(";")
    name, _, value = pair.partition("=")
    return name.strip(), value, semicolon + attributes


class JsonShape:
    """The shape of JSON values seen at one place of a body: their types, and per type what they were made of."""

    __slots__ = (
        "booleans", "digits", "echo", "floats", "ints", "items", "keys", "kinds", "lengths", "objects", "presence",
        "scalars", "strings",
    )  # fmt: skip

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.keys: dict[str, JsonShape] = {}  # in the order first seen
        self.presence: Counter[str] = Counter()
        self.objects = 0
        self.items: JsonShape | None = None
        self.lengths: list[int] = []  # array lengths: [shortest, longest]
        self.strings: Format | None = None
        self.ints: list[int] = []  # [low, high]
        self.digits: list[int] = []  # the first 32 ints' lengths in digits
        self.floats: list[float] = []  # [low, high, decimals]
        self.booleans: Counter[bool] = Counter()
        # A number or string that repeats a segment of the request's path (a product's id): which segment, how often.
        self.echo: Counter[int] = Counter()
        self.scalars = 0

    def observe(
        self, value: Any, client: int, budget: list[int], depth: int = 0, segments: tuple[str, ...] = ()
    ) -> None:
        """Learn one value; `budget` (a one-item list) counts the nodes this shape may still grow by; `segments` are
        the request path's."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, int | str) and not isinstance(value, bool):
            self.scalars += 1
            text = str(value)
            if text in segments:
                self.echo[segments.index(text)] += 1
        if isinstance(value, bool):
            self.kinds["bool"] += 1
            self.booleans[value] += 1
        elif isinstance(value, int):
            self.kinds["int"] += 1
            self.ints = [min(self.ints[0], value), max(self.ints[1], value)] if self.ints else [value, value]
            if len(self.digits) < 32 and value >= 0:
                self.digits.append(len(str(value)))
        elif isinstance(value, float):
            self.kinds["float"] += 1
            text = repr(value)
            decimals = len(text.partition(".")[2]) if "e" not in text else 6
            if self.floats:
                low, high, most = self.floats
                self.floats = [min(low, value), max(high, value), max(most, decimals)]
            else:
                self.floats = [value, value, float(decimals)]
        elif isinstance(value, str):
            self.kinds["str"] += 1
            if self.strings is None:
                self.strings = Format()
            self.strings.observe(value, client)
        elif value is None:
            self.kinds["null"] += 1
        elif isinstance(value, list):
            self.kinds["list"] += 1
            n = len(value)
            self.lengths = [min(self.lengths[0], n), max(self.lengths[1], n)] if self.lengths else [n, n]
            for item in value[:32]:
                if self.items is None:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                    self.items = JsonShape()
                self.items.observe(item, client, budget, depth + 1, segments)
        elif isinstance(value, dict):
            self.kinds["dict"] += 1
            self.objects += 1
            for key, item in value.items():
                child = self.keys.get(key)
                if child is None:
                    if len(self.keys) >= MAX_KEYS or budget[0] <= 0:
                        continue
                    budget[0] -= 1
                    child = self.keys[key] = JsonShape()
                self.presence[key] += 1
                child.observe(item, client, budget, depth + 1, segments)

    def synthesize(self, rng: random.Random, depth: int = 0, segments: tuple[str, ...] = ()) -> Any:
        """A value of the learned shape (a kind drawn by how often it was seen); one that always repeated a segment of
        the path repeats this request's."""
        if not self.kinds or depth > MAX_DEPTH:
            return None
        kinds = list(self.kinds)
        kind = rng.choices(kinds, weights=[self.kinds[k] for k in kinds])[0] if len(kinds) > 1 else kinds[0]
        if self.echo and kind in ("int", "str"):
            index, times = self.echo.most_common(1)[0]
            if times == self.scalars and index < len(segments):
                text = segments[index]
                if kind == "str":
                    return text
                if text.isdigit() and len(text) <= 18:
                    return int(text)
        if kind == "bool":
            return rng.random() * sum(self.booleans.values()) < self.booleans[True]
        if kind == "int":
            first, last = self.ints
            return number(rng, first, last, self.digits) if first >= 0 else rng.randint(first, last)
        if kind == "float":
            low, high, decimals = self.floats
            return round(rng.uniform(low, high), int(decimals))
        if kind == "str":
            return self.strings.synthesize(rng) if self.strings is not None else ""
        if kind == "list":
            n = rng.randint(self.lengths[0], self.lengths[1]) if self.lengths else 0
            return [] if self.items is None else [self.items.synthesize(rng, depth + 1, segments) for _ in range(n)]
        if kind == "dict":
            out = {}
            for key, child in self.keys.items():
                if rng.random() * self.objects < self.presence[key]:
                    out[key] = child.synthesize(rng, depth + 1, segments)
            return out
        return None


@dataclass(slots=True)
class PageClass:
    """The pages of one tag sequence: a format per token (a tag with its attributes, or a run of text)."""

    tokens: list[Format]
    count: int = 0
    clients: set[int] = field(default_factory=set)  # up to MIN_CLIENTS: a page class of fewer is not drawn


@dataclass(slots=True)
class HtmlShape:
    """The page classes of an endpoint's HTML answers (at most `MAX_PAGE_CLASSES`), by their sequence of tags."""

    classes: dict[tuple[str, ...], PageClass] = field(default_factory=dict)

    def observe(self, text: str, client: int) -> None:
        tokens = _TOKEN.findall(text)[:MAX_TOKENS]
        signature = tuple(_tag_name(t) for t in tokens)
        page = self.classes.get(signature)
        if page is None:
            if len(self.classes) >= MAX_PAGE_CLASSES:
                return
            page = self.classes[signature] = PageClass([Format() for _ in tokens])
        page.count += 1
        if len(page.clients) < MIN_CLIENTS:
            page.clients.add(client)
        for token_format, token in zip(page.tokens, tokens, strict=True):
            token_format.observe(token, client)

    def drawable(self) -> bool:
        """Whether some page class was seen from enough people to be drawn (its tags are the site's, not guesses)."""
        return any(len(p.clients) >= MIN_CLIENTS for p in self.classes.values())

    def synthesize(self, rng: random.Random, size: int = -1) -> str:
        """A page of a class seen from enough people; `size` (bytes, UTF-8) when given: its longest drawn run of text
        made longer or shorter to reach it."""
        pages = [p for p in self.classes.values() if len(p.clients) >= MIN_CLIENTS]
        page = rng.choices(pages, weights=[p.count for p in pages])[0] if len(pages) > 1 else pages[0]
        tokens = [token.synthesize(rng) for token in page.tokens]
        if size >= 0:
            drawn = [
                i for i, (f, t) in enumerate(zip(page.tokens, tokens, strict=True)) if not f.fixed() and t[:1] != "<"
            ]
            if drawn:
                longest = max(drawn, key=lambda i: len(tokens[i]))
                tokens[longest] = _resize(tokens[longest], size - len("".join(tokens).encode()), rng)
        return "".join(tokens)


def _tag_name(token: str) -> str:
    if not token.startswith("<"):
        return "#"
    return token[1:].split(None, 1)[0].rstrip(">").lower()[:16] if len(token) > 2 else token


@dataclass(slots=True)
class StatusShape:
    """What an endpoint's answers with one status looked like."""

    count: int = 0
    orders: Counter[tuple[str, ...]] = field(default_factory=Counter)
    headers: dict[str, ValueShape] = field(default_factory=dict)
    cookies: dict[str, CookieShape] = field(default_factory=dict)
    empty: int = 0  # answers with `content-length: 0`
    json: JsonShape | None = None
    html: HtmlShape | None = None
    bodies: int = 0  # bodies learned
    compact: int = 0  # JSON bodies written without spaces after `:` and `,`
    body_clients: set[int] = field(
        default_factory=set
    )  # up to 16 distinct clients whose body of this status was learned

    def observe(self, seen: Observed) -> None:
        self.count += 1
        order: list[str] = []
        for name, value in seen.headers:
            if name in _SKIPPED:
                continue
            if name == "set-cookie":
                cookie, cookie_value, attributes = split_cookie(value)
                key = f"set-cookie:{cookie}"
                shape = self.cookies.get(cookie)
                if shape is None:
                    if len(self.cookies) >= MAX_COOKIES:
                        continue
                    shape = self.cookies[cookie] = CookieShape()
                shape.observe(cookie_value, attributes, seen.client, seen.now)
                order.append(key)
                continue
            order.append(name)
            if name == "content-length" and value.strip() == "0":
                self.empty += 1
            if name in _COMPUTED:
                continue
            header = self.headers.get(name)
            if header is None:
                if len(self.headers) >= MAX_HEADERS:
                    continue
                header = self.headers[name] = ValueShape()
            header.observe(value, seen.client, seen.now)
        if len(self.orders) < MAX_ORDERS or tuple(order) in self.orders:
            self.orders[tuple(order)] += 1

    def observe_body(self, seen: Observed, content_type: str, budget: int) -> int:
        """Learn a body (JSON growing by at most `budget` nodes); returns the JSON nodes added, -1 if none learned."""
        body = seen.body
        if body is None or not seen.complete or len(body) > MAX_BODY:
            return -1
        left = [budget]
        if "json" in content_type:
            try:
                value = json.loads(body)
            except ValueError:
                return -1
            if self.json is None:
                self.json = JsonShape()
            self.json.observe(value, seen.client, left, 0, _segments(seen.path))
            self.compact += b'": ' not in body and b", " not in body
        elif "html" in content_type:
            if self.html is None:
                self.html = HtmlShape()
            self.html.observe(body.decode("utf-8", "replace"), seen.client)
        else:
            return -1
        self.bodies += 1
        if len(self.body_clients) < 16:
            self.body_clients.add(seen.client)
        return budget - left[0]

    def body_known(self) -> bool:
        """Whether a fake body can be drawn: learned from enough clients, or the answers carry none."""
        if self.empty and self.empty == self.count:
            return True
        return self.bodies >= 1 and (self.json is not None or (self.html is not None and self.html.drawable()))

    def synthesize_body(self, rng: random.Random, path: str, size: int = -1) -> bytes:
        """A body of the learned shape; `size` when given: made that long by its longest drawn string where it can."""
        if self.empty and self.empty == self.count:
            return b""
        if self.json is not None:
            value = self.json.synthesize(rng, 0, _segments(path))
            separators = (",", ":") if self.compact * 2 > self.bodies else (", ", ": ")
            body = json.dumps(value, separators=separators).encode()
            if size >= 0 and len(body) != size:
                leaves: list[tuple[Any, Any]] = []
                _drawn_strings(self.json, value, leaves)
                if leaves:
                    parent, key = max(leaves, key=lambda leaf: len(leaf[0][leaf[1]]))
                    parent[key] = _resize(parent[key], size - len(body), rng)
                    body = json.dumps(value, separators=separators).encode()
            return body
        if self.html is not None:
            return self.html.synthesize(rng, size).encode()
        return b""


@dataclass(slots=True)
class EndpointShape:
    """An endpoint's answers to people: by status, with the clients seen and the upstream's latencies."""

    statuses: dict[int, StatusShape] = field(default_factory=dict)
    clients: set[int] = field(default_factory=set)  # up to 16 distinct clients sampled
    body_clients: set[int] = field(default_factory=set)  # up to 16 distinct clients whose body was learned
    # (seconds from botwall's answer to the response, the upstream service time Envoy reported in ms or -1): a fake
    # waits the one and reports the other, as the same real answer did.
    latencies: list[tuple[float, int]] = field(default_factory=list)
    seen: int = 0
    bodies: int = 0
    nodes: int = 0  # JSON nodes learned across statuses (bounded by MAX_NODES)
    # The status and body size (-1: it differed between answers, a person's own page) people were sent for each of
    # the last `PATHS` paths: a fake of a path people saw has its status and about its size, never its content.
    paths: dict[str, tuple[int, int]] = field(default_factory=dict)
    fakes: dict[tuple[int, int], bytes] = field(default_factory=dict)  # (seed, status) -> the body drawn

    def observe(self, seen: Observed) -> None:
        status = self.statuses.get(seen.status)
        if status is None:
            if len(self.statuses) >= MAX_STATUSES:
                return
            status = self.statuses[seen.status] = StatusShape()
        status.observe(seen)
        self.seen += 1
        if seen.path:
            self._remember(seen)
        if len(self.clients) < 16:
            self.clients.add(seen.client)
        service = next((v for k, v in seen.headers if k == "x-envoy-upstream-service-time"), "")
        latency = (seen.latency, int(service) if service.isdigit() and len(service) < 9 else -1)
        if len(self.latencies) < LATENCIES:
            self.latencies.append(latency)
        else:  # the most recent: an upstream is slower at noon than at night
            self.latencies[self.seen % LATENCIES] = latency
        if seen.body is not None:
            content_type = next((v.lower() for k, v in seen.headers if k == "content-type"), "")
            added = status.observe_body(seen, content_type, MAX_NODES - self.nodes)
            if added >= 0:
                self.bodies += 1
                if len(self.body_clients) < 16:
                    self.body_clients.add(seen.client)
                self.nodes += added

    def _remember(self, seen: Observed) -> None:
        length = next((v for k, v in seen.headers if k == "content-length"), "")
        size = int(length) if length.isdigit() and len(length) < 10 else -1
        if size < 0 and seen.body is not None and seen.complete:
            size = len(seen.body)
        before = self.paths.pop(seen.path, None)
        if before is not None and before[0] == seen.status and before[1] != size:
            size = -1  # the same path, another size: what it answers depends on who asks
        if len(self.paths) >= PATHS:
            del self.paths[next(iter(self.paths))]
        self.paths[seen.path] = (seen.status, size)

    def needs_body(self, path: str, client: int) -> bool:
        """Whether this path's last answer had a status whose body cannot be drawn yet (a 404 page seen too rarely)
        and this client has not given one of that status."""
        known = self.paths.get(path)
        status = self.statuses.get(known[0]) if known is not None else None
        return status is not None and not status.body_known() and client not in status.body_clients

    def ready(self, min_samples: int) -> bool:
        """Whether enough answers from enough people were seen to fake one."""
        return self.seen >= min_samples and len(self.clients) >= MIN_CLIENTS and bool(self._statuses(min_samples))

    def _statuses(self, min_samples: int) -> list[int]:
        # Statuses seen often enough (a fifth of the samples asked for) whose body can be drawn.
        floor = max(2, min_samples // 5)
        return [code for code, s in self.statuses.items() if s.count >= floor and s.body_known()]

    def fake(
        self,
        seed: int,
        fresh: random.Random,
        now: float,
        min_samples: int,
        max_delay: float,
        statuses: tuple[int, ...] = (),
        path: str = "",
    ) -> Fake | None:
        """A fake answer (see the module docstring); `statuses` restricts the status (a login's success), None when
        no learned status fits."""
        if self.seen < min_samples or len(self.clients) < MIN_CLIENTS:  # not `ready`: its statuses are listed below
            return None
        codes = [c for c in self._statuses(min_samples) if not statuses or c in statuses]
        if not codes:
            return None
        seeded = random.Random(seed)  # noqa: S311 - a fake world, reproducible by design
        code = seeded.choices(codes, weights=[self.statuses[c].count for c in codes])[0] if len(codes) > 1 else codes[0]
        known = self.paths.get(path)
        if known is not None and known[0] in codes:
            code = known[0]  # the path people were answered: its status (the rest of the world is drawn)
        shape = self.statuses[code]
        body = self.fakes.get((seed, code))
        if body is None:
            target = known[1] if known is not None and known[0] == code else -1
            body = _draw(shape, seed, path, target)
            if len(self.fakes) >= FAKES:
                del self.fakes[next(iter(self.fakes))]
            self.fakes[(seed, code)] = body
        delay, service = fresh.choice(self.latencies) if self.latencies else (0.0, -1)
        delay = min(max_delay, delay)
        order = shape.orders.most_common(1)[0][0] if shape.orders else ()
        headers: list[tuple[str, str]] = []
        for name in order:
            if name.startswith("set-cookie:"):
                cookie = name.partition(":")[2]
                if cookie in shape.cookies:
                    headers.append(("set-cookie", shape.cookies[cookie].synthesize(cookie, fresh, now)))
            elif name == "content-length":
                headers.append((name, str(len(body))))
            elif name == "date":
                headers.append((name, format_date(now)))
            elif name == "x-envoy-upstream-service-time":
                headers.append((name, str(service if service >= 0 else int(delay * 1000))))
            elif name in shape.headers:
                per_resource = random.Random(seed ^ zlib.crc32(name.encode()))  # noqa: S311 - see `seeded`
                rng = per_resource if name in _PER_RESOURCE else fresh
                headers.append((name, shape.headers[name].synthesize(rng, now)))
        if "content-length" not in order:
            headers.append(("content-length", str(len(body))))
        return Fake(code, tuple(headers), body, delay)


def _resize(text: str, change: int, rng: random.Random) -> str:
    """`text` longer by `change` letters (or shorter, keeping its first letter and any trailing white space)."""
    if change > 0:
        stripped = text.rstrip()
        return stripped + "".join(rng.choice("aeioulnrst") for _ in range(change)) + text[len(stripped) :]
    stripped = text.rstrip()
    keep = max(1, len(stripped) + change)
    return stripped[:keep] + text[len(stripped) :]


def _plain(text: str) -> bool:
    return bool(text) and text.isascii() and text.replace(" ", "").isalnum()


def _drawn_strings(shape: JsonShape, value: Any, into: list[tuple[Any, Any]]) -> None:
    """(container, key) of every string in `value` drawn from a format rather than fixed (ASCII letters, digits and
    spaces only, so that a change of n letters changes the JSON by n bytes)."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = shape.keys.get(key)
            if child is None:
                continue
            if isinstance(item, str):
                if child.strings is not None and not child.strings.fixed() and _plain(item):
                    into.append((value, key))
            else:
                _drawn_strings(child, item, into)
    elif isinstance(value, list) and shape.items is not None:
        for index, item in enumerate(value):
            if isinstance(item, str):
                strings = shape.items.strings
                if strings is not None and not strings.fixed() and _plain(item):
                    into.append((value, index))
            else:
                _drawn_strings(shape.items, item, into)


def _draw(shape: StatusShape, seed: int, path: str, target: int) -> bytes:
    """A fake body for a path; for one people were sent, the nearest to its real size of `CANDIDATES` drawn."""
    body = shape.synthesize_body(random.Random(seed), path)  # noqa: S311 - a fake world, reproducible by design
    if target < 0:
        return body
    best = 0
    for n in range(1, CANDIDATES):
        if len(body) == target:
            break
        candidate = shape.synthesize_body(random.Random(seed + n), path)  # noqa: S311
        if abs(len(candidate) - target) < abs(len(body) - target):
            body, best = candidate, n
    if len(body) != target:  # a few bytes off: the longest drawn text takes up the difference
        body = shape.synthesize_body(random.Random(seed + best), path, target)  # noqa: S311
    return body


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("/")[1:17])
