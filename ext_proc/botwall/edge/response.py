"""The one module that turns botwall's decisions into Envoy `ProcessingResponse` messages."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from botwall.config import Action
from botwall.edge.decision_log import METADATA_NAMESPACE, metadata_fields
from botwall.edge.envoy_api import (
    BODY_MODE,
    BODY_SAMPLE_MODE,
    SAMPLE_MODE,
    BodyResponse,
    BoolValue,
    CommonResponse,
    HeaderMutation,
    HeadersResponse,
    HeaderValue,
    HeaderValueOption,
    HttpStatus,
    ImmediateResponse,
    ProcessingResponse,
    Struct,
    TrailersResponse,
)
from botwall.policy import Decision

TAG_PREFIX = "x-botwall-"
TAG_HEADERS = ("x-botwall-score", "x-botwall-verdict", "x-botwall-reasons", "x-botwall-fingerprint")
# A transaction's (`config.transactions`), besides those: x-botwall-transaction, x-botwall-risk, x-botwall-campaign.
_BLOCK_BODY = b"Forbidden\n"
_THROTTLE_BODY = b"Too Many Requests\n"
# The challenge: a browser stores the cookie and reloads the page at once (no script: a meta refresh). A client that
# keeps no cookies stays here and is refused on its next try.
_CHALLENGE_BODY = (
    b"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=0>"
    b"<meta name=robots content=noindex><title>One moment</title></head>"
    b"<body><p>Loading&hellip; If this page does not go away, allow cookies for this site and reload.</p>"
    b"</body></html>\n"
)


def _header(name: str, value: str) -> HeaderValueOption:
    # raw_value, not value: a mutation with only `value` arrives as an empty header (ENVOY_NOTES).
    return HeaderValueOption(header=HeaderValue(key=name, raw_value=value.encode()))


def _cookie(value: str) -> HeaderValueOption:
    # Each Set-Cookie its own header: appended (unset `append` overwrites the one before, ENVOY_NOTES).
    return HeaderValueOption(
        header=HeaderValue(key="set-cookie", raw_value=value.encode()), append=BoolValue(value=True)
    )


def _metadata(decision: Decision) -> Struct:
    # Field by field rather than Struct.update: this runs for every request, and is twice as fast.
    metadata = Struct()
    fields = metadata.fields[METADATA_NAMESPACE].struct_value.fields
    for key, value in metadata_fields(decision).items():
        if isinstance(value, bool):
            fields[key].bool_value = value
        elif isinstance(value, int):
            fields[key].number_value = value
        else:
            fields[key].string_value = value
    return metadata


def client_tags(header_names: Iterable[str]) -> list[str]:
    """Client-sent `x-botwall-*` headers: none of them may reach the upstream."""
    return [n for n in header_names if n.startswith(TAG_PREFIX)]


def passthrough(remove: list[str]) -> ProcessingResponse:
    """Continue, removing the client's `x-botwall-*` headers (used when scoring failed)."""
    return ProcessingResponse(
        request_headers=HeadersResponse(response=CommonResponse(header_mutation=HeaderMutation(remove_headers=remove)))
    )


def passthrough_for(kind: str | None) -> ProcessingResponse:
    """An unchanged answer to a body or trailers message (only sent when a route asks for them)."""
    if kind == "request_body":
        return ProcessingResponse(request_body=BodyResponse())
    if kind == "response_body":
        return ProcessingResponse(response_body=BodyResponse())
    if kind == "request_trailers":
        return ProcessingResponse(request_trailers=TrailersResponse())
    if kind == "response_trailers":
        return ProcessingResponse(response_trailers=TrailersResponse())
    return ProcessingResponse(request_headers=HeadersResponse())


def continue_response_headers(set_cookie: str = "") -> ProcessingResponse:
    """Let the upstream's response headers through, adding botwall's cookie when one is due."""
    if not set_cookie:
        return ProcessingResponse(response_headers=HeadersResponse())
    # `append`, not append_action: ext_proc in Envoy 1.40 reads only the deprecated flag, and unset overwrites the
    # upstream's own Set-Cookie headers (ENVOY_NOTES).
    return ProcessingResponse(
        response_headers=HeadersResponse(
            response=CommonResponse(header_mutation=HeaderMutation(set_headers=[_cookie(set_cookie)]))
        )
    )


def await_body(sent_tags: list[str], sample_body: bool = False) -> ProcessingResponse:
    """Continue the headers of a login request (client tags removed) and ask Envoy for its buffered body: sent with
    the request headers, the mode override makes Envoy buffer the body and send it in the next message; with
    `sample_body`, the response's body too (`botwall.deception` learns its shape)."""
    return ProcessingResponse(
        request_headers=HeadersResponse(
            response=CommonResponse(header_mutation=HeaderMutation(remove_headers=sent_tags))
        ),
        mode_override=BODY_SAMPLE_MODE if sample_body else BODY_MODE,
    )


def with_response_body(answer: ProcessingResponse) -> ProcessingResponse:
    """A request-headers answer that also asks Envoy for the response's body (a sample for `botwall.deception`).
    A copy: the answer may be a cached one other streams share."""
    out = ProcessingResponse()
    out.CopyFrom(answer)
    out.mode_override.CopyFrom(SAMPLE_MODE)
    return out


def fake_response(
    decision: Decision, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> ProcessingResponse:
    """A deceive decision's answer: the fake (or static) status, headers in their order, and body."""
    immediate = ImmediateResponse(
        status=HttpStatus(code=status),
        headers=HeaderMutation(set_headers=[_cookie(v) if k == "set-cookie" else _header(k, v) for k, v in headers]),
        body=body,
        details="botwall_deceive",
    )
    return ProcessingResponse(immediate_response=immediate, dynamic_metadata=_metadata(decision))


def _tag_mutation(decision: Decision, sent_tags: list[str]) -> HeaderMutation:
    tags = [
        _header("x-botwall-score", str(decision.score)),
        _header("x-botwall-verdict", decision.verdict),
        _header("x-botwall-reasons", ",".join(decision.reasons)),
        _header("x-botwall-fingerprint", decision.fingerprint),
    ]
    if decision.action is not Action.ALLOW:
        # A monitor policy, or a shadowed action: the upstream sees what botwall would have done.
        tags.append(_header("x-botwall-action", f"{decision.action}{'-shadow' if decision.shadow else ''}"))
    if decision.transaction:
        # A transaction route: its risk for the fraud review, and the campaign its client belongs to, if any.
        tags.append(_header("x-botwall-transaction", decision.transaction))
        tags.append(_header("x-botwall-risk", str(decision.risk)))
        if decision.campaign:
            tags.append(_header("x-botwall-campaign", decision.campaign))
    # Headers we set overwrite the client's copies; remove only the others, so no removal can undo a tag.
    ours = {t.header.key for t in tags}
    return HeaderMutation(set_headers=tags, remove_headers=[name for name in sent_tags if name not in ours])


def request_headers_response(decision: Decision, sent_tags: list[str]) -> ProcessingResponse:
    """Tag and continue, or answer the client directly, as the decision says."""
    if decision.mitigates:
        return ProcessingResponse(immediate_response=_immediate(decision), dynamic_metadata=_metadata(decision))
    if not sent_tags and not decision.transaction:
        d = decision
        return _continue(d.action, d.score, d.verdict, d.reasons, d.fingerprint, d.policy, d.shadow, d.enforced)
    return _tagged(decision, sent_tags)


def _tagged(decision: Decision, sent_tags: list[str]) -> ProcessingResponse:
    return ProcessingResponse(
        request_headers=HeadersResponse(response=CommonResponse(header_mutation=_tag_mutation(decision, sent_tags))),
        dynamic_metadata=_metadata(decision),
    )


@functools.lru_cache(maxsize=4096)
def _continue(
    action: Action,
    score: int,
    verdict: str,
    reasons: tuple[str, ...],
    fingerprint: str,
    policy: str,
    shadow: bool,
    enforced: bool,
) -> ProcessingResponse:
    """The tags and metadata of a decision (the fields they carry), built once per distinct one: a client's requests
    mostly repeat a decision (the same score, reasons and fingerprint), and building the message cost a quarter of
    a request's handling. Nothing changes a message once built, so every stream may be handed the same one."""
    decision = Decision(action, enforced, shadow, policy, score, verdict, reasons, fingerprint)
    return _tagged(decision, [])


def request_body_response(decision: Decision) -> ProcessingResponse:
    """The decision on a login request, made once its body was read: tags travel in the (buffered) body response."""
    if decision.mitigates:
        return ProcessingResponse(immediate_response=_immediate(decision), dynamic_metadata=_metadata(decision))
    return ProcessingResponse(
        request_body=BodyResponse(response=CommonResponse(header_mutation=_tag_mutation(decision, []))),
        dynamic_metadata=_metadata(decision),
    )


def _immediate(decision: Decision) -> ImmediateResponse:
    if decision.action is Action.BLOCK:
        return ImmediateResponse(
            status=HttpStatus(code=403),
            headers=HeaderMutation(set_headers=[_header("content-type", "text/plain; charset=utf-8")]),
            body=_BLOCK_BODY,
            details="botwall_block",
        )
    if decision.action is Action.THROTTLE:
        return ImmediateResponse(
            status=HttpStatus(code=429),
            headers=HeaderMutation(
                set_headers=[
                    _header("retry-after", str(decision.retry_after)),
                    _header("content-type", "text/plain; charset=utf-8"),
                ]
            ),
            body=_THROTTLE_BODY,
            details="botwall_throttle",
        )
    if decision.action is Action.CHALLENGE:
        return ImmediateResponse(
            status=HttpStatus(code=403),
            headers=HeaderMutation(
                set_headers=[
                    _header("content-type", "text/html; charset=utf-8"),
                    _header("cache-control", "no-store"),
                    _header("set-cookie", decision.set_cookie),
                ]
            ),
            body=_CHALLENGE_BODY,
            details="botwall_challenge",
        )
    spec = decision.deceive
    assert spec is not None
    return ImmediateResponse(
        status=HttpStatus(code=spec.status),
        headers=HeaderMutation(set_headers=[_header(k, v) for k, v in spec.headers]),
        body=spec.body,
        details="botwall_deceive",
    )
