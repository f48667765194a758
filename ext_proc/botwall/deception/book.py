"""What botwall learned of the site's answers, which answers it still wants to see, and the fake sessions it handed
out: one `Deception` per process, fed and asked by the server.

**Sampling.** Only answers to requests botwall allowed as a person's are learned (`wants` is asked with the decision).
Per endpoint, every such answer's headers until `header_samples`, then a `sample_rate` share; its body (Envoy sends
it only when asked, by a per-request mode override) until `body_samples`, then a `body_rate` share; and the first
answer with its body of each of the first 16 people, whatever the counts (a template is what several people were
sent alike); never more than `bodies_per_second` bodies in all: a body is parsed, and parsing is the costly part. A
sampled request keeps its stream open for its response, which an ordinary cookie holder's request otherwise does not.

**Fake answers.** `answer` draws a fake from the endpoint's shape once it is `ready` (`min_samples` answers from at
least three people), else returns None and the policy's static answer stands. The request seeds the body under the
deployment's key (`state.keys`): the same request sees the same fake world; the key keeps an attacker from predicting
it from the path.

**Traps.** A fake login success hands out a fake session (the login route's session cookie, a fresh value of its
learned format). `trap` remembers it (by its keyed hash, with the username it "opened", the client's fingerprint and
the deceive policy); every later request that presents it is the trapped client (`trapped`), answered with fakes by
the same policy whatever its score, and counted as such. Bounded: `max_traps` sessions, each forgotten
`trap_ttl_seconds` after its last use.
"""

from __future__ import annotations

import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from botwall.config import DeceiveSpec, DeceptionSettings
from botwall.deception.shapes import EndpointShape, Fake, Observed, split_cookie
from botwall.state.keys import KeyHasher
from botwall.state.store import Store

# Sampling asked of a request's response.
NONE, HEADERS, BODY = 0, 1, 2
_SPREAD = 16  # people whose first answer (and first body) of an endpoint is sampled whatever the counts

EndpointKey = tuple[str, str, str]  # (host, method, template), as endpoint discovery names it


@dataclass(slots=True)
class Trap:
    """A fake session botwall handed out."""

    username: str
    fingerprint: str
    policy: str
    spec: DeceiveSpec
    since: float
    last: float
    requests: int = 0


class Deception:
    """The shapes learned per endpoint, the sampling that feeds them, and the fake sessions handed out."""

    def __init__(
        self,
        settings: DeceptionSettings,
        keys: KeyHasher,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        store: Store | None = None,
        specs: dict[str, DeceiveSpec] | None = None,
    ) -> None:
        self.settings = settings
        # Traps are also marks in the state store (`trap`, "<policy>|<session>", for `trap_ttl_seconds` from their
        # last use): with Redis (replicas, or `--workers`), a trap set by one process holds at the others a sync
        # round later. `specs`: the deceive policies by name, what a trap known only as a mark is answered by.
        self._store = store
        self._specs = dict(specs or {})
        self._keys = keys
        self._wall = wall
        # Fake values, not secrets: a fake session is worth nothing to whoever guesses it.
        self._rng = rng or random.Random(os.urandom(16))  # noqa: S311
        self.shapes: dict[EndpointKey, EndpointShape] = {}
        self.traps: OrderedDict[int, Trap] = OrderedDict()
        self._body_tokens = settings.bodies_per_second
        self._body_refill = wall()
        # How late a fake answer goes, on average, past the moment it should (waking a stream costs a little): drawn
        # from what the server measures, and taken off the next waits.
        self.lateness = 0.0
        self.learned = 0  # answers learned
        self.faked = 0  # fake answers drawn from a learned shape
        self.static = 0  # deceive answers that fell back to the policy's static one

    # Sampling and learning

    def wants(self, key: EndpointKey | None, client: int = 0, path: str = "") -> int:
        """How much of this request's answer to sample (`NONE`, `HEADERS`, `BODY`); ask only for a person's.
        `client` (a keyed hash): the first answers of each of the first `_SPREAD` people are sampled too, so that
        what every person was sent (a page's template) can be told from what one was; `path`: a path whose last
        answer's body cannot be drawn yet is sampled with its body."""
        s = self.settings
        if key is None or not s.learn or key[2].startswith("("):
            return NONE
        shape = self.shapes.get(key)
        if shape is None and len(self.shapes) >= s.max_endpoints:
            return NONE
        seen = shape.seen if shape is not None else 0
        bodies = shape.bodies if shape is not None else 0
        new_body_client = shape is None or (len(shape.body_clients) < _SPREAD and client not in shape.body_clients)
        if shape is not None and shape.needs_body(path, client):
            new_body_client = True
        new_client = shape is None or (len(shape.clients) < _SPREAD and client not in shape.clients)
        rng = self._rng
        if (bodies < s.body_samples or new_body_client or rng.random() < s.body_rate) and self._body_budget():
            return BODY
        if seen < s.header_samples or new_client or rng.random() < s.sample_rate:
            return HEADERS
        return NONE

    def _body_budget(self) -> bool:
        now = self._wall()
        rate = self.settings.bodies_per_second
        self._body_tokens = min(rate, self._body_tokens + (now - self._body_refill) * rate)
        self._body_refill = now
        if self._body_tokens < 1.0:
            return False
        self._body_tokens -= 1.0
        return True

    def learn(self, key: EndpointKey, observed: Observed) -> None:
        """Learn one sampled answer to a person."""
        shape = self.shapes.get(key)
        if shape is None:
            if len(self.shapes) >= self.settings.max_endpoints:
                return
            shape = self.shapes[key] = EndpointShape()
        shape.observe(observed)
        self.learned += 1

    # Fake answers

    def seed(self, method: str, host: str, path: str, query: str) -> int:
        """The request's seed: the same request, the same fake body."""
        return self._keys(f"{method}|{host.lower()}|{path}?{query}")

    def answer(self, key: EndpointKey | None, seed: int, statuses: tuple[int, ...] = (), path: str = "") -> Fake | None:
        """A fake answer from the endpoint's learned shape; None when it is not learned yet (`statuses`: only
        these, a login's success)."""
        shape = self.shapes.get(key) if key is not None else None
        s = self.settings
        fake = (
            shape.fake(seed, self._rng, self._wall(), s.min_samples, self.max_delay, statuses, path) if shape else None
        )
        if fake is None:
            self.static += 1
        else:
            self.faked += 1
        return fake

    def late(self, seconds: float) -> None:
        """Count how late a fake answer went (an exponentially weighted mean)."""
        self.lateness += 0.1 * (min(max(seconds, -0.01), 0.01) - self.lateness)

    @property
    def max_delay(self) -> float:
        return self.settings.max_delay_ms / 1000.0

    def session_value(self, key: EndpointKey | None, cookie: str) -> str:
        """A fresh value for a session cookie: of the learned format where the endpoint set it, else a random token
        of the common shape (43 URL-safe characters)."""
        shape = self.shapes.get(key) if key is not None else None
        if shape is not None:
            for status in shape.statuses.values():
                learned = status.cookies.get(cookie)
                if learned is not None and learned.value.groups:
                    return learned.value.synthesize(self._rng)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "".join(self._rng.choice(alphabet) for _ in range(43))

    # Traps

    def trap(self, value: str, username: str, fingerprint: str, policy: str, spec: DeceiveSpec) -> None:
        """Remember a fake session handed out."""
        if self.settings.max_traps <= 0:
            return
        now = self._wall()
        traps = self.traps
        while len(traps) >= self.settings.max_traps:
            traps.popitem(last=False)
        traps[self._keys(value)] = Trap(username[:128], fingerprint, policy, spec, now, now)
        if self._store is not None:
            self._store.mark("trap", f"{policy}|{value}", self.settings.trap_ttl_seconds)

    def trapped(self, cookie_header: str, names: Iterable[str], shared: bool = False) -> Trap | None:
        """The trap whose fake session this `Cookie` header presents, if any (cookies named `names` only). `shared`:
        ask the store's marks too (another process's traps); an ask the store cannot answer locally costs a key in its
        next sync round, so the server asks only for a request whose own evidence is already against it."""
        if not cookie_header or (not self.traps and not shared):
            return None
        now = self._wall()
        wanted = set(names)
        for part in cookie_header.split(";")[:64]:
            name, _, value = part.strip().partition("=")
            if name not in wanted or not value:
                continue
            hashed = self._keys(value)
            trap = self.traps.get(hashed)
            if trap is not None and now - trap.last > self.settings.trap_ttl_seconds:
                del self.traps[hashed]
                trap = None
            if trap is None and shared:
                trap = self._shared(value, hashed, now)
            if trap is None:
                continue
            trap.last = now
            trap.requests += 1
            self.traps.move_to_end(hashed)
            if self._store is not None:
                self._store.mark("trap", f"{trap.policy}|{value}", self.settings.trap_ttl_seconds)
            return trap
        return None

    def _shared(self, value: str, hashed: int, now: float) -> Trap | None:
        if self._store is None:
            return None
        for policy, spec in self._specs.items():
            if self._store.marked("trap", f"{policy}|{value}"):
                while len(self.traps) >= max(1, self.settings.max_traps):
                    self.traps.popitem(last=False)
                trap = self.traps[hashed] = Trap("", "", policy, spec, now, now)
                return trap
        return None


def session_cookie(fake: Fake, name: str) -> str:
    """The value of the cookie `name` a fake answer sets ("" when it sets none)."""
    for header, value in fake.headers:
        if header == "set-cookie":
            cookie, cookie_value, _ = split_cookie(value)
            if cookie == name:
                return cookie_value
    return ""
