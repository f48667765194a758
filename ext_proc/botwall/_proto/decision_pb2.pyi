from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_HUMAN: _ClassVar[Verdict]
    VERDICT_SUSPECT: _ClassVar[Verdict]
    VERDICT_BOT: _ClassVar[Verdict]
    VERDICT_GOOD_BOT: _ClassVar[Verdict]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_ALLOW: _ClassVar[Action]
    ACTION_MONITOR: _ClassVar[Action]
    ACTION_BLOCK: _ClassVar[Action]
    ACTION_THROTTLE: _ClassVar[Action]
    ACTION_DECEIVE: _ClassVar[Action]
    ACTION_CHALLENGE: _ClassVar[Action]
VERDICT_UNSPECIFIED: Verdict
VERDICT_HUMAN: Verdict
VERDICT_SUSPECT: Verdict
VERDICT_BOT: Verdict
VERDICT_GOOD_BOT: Verdict
ACTION_UNSPECIFIED: Action
ACTION_ALLOW: Action
ACTION_MONITOR: Action
ACTION_BLOCK: Action
ACTION_THROTTLE: Action
ACTION_DECEIVE: Action
ACTION_CHALLENGE: Action

class DecisionEvent(_message.Message):
    __slots__ = ("request_id", "score", "verdict", "action", "reasons", "fingerprint", "policy", "shadow", "enforced", "client_ip", "method", "authority", "path", "user_agent", "ja4", "retry_after_s", "timestamp_ms", "username", "login_route", "own_score")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    JA4_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ROUTE_FIELD_NUMBER: _ClassVar[int]
    OWN_SCORE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    score: int
    verdict: Verdict
    action: Action
    reasons: _containers.RepeatedScalarFieldContainer[str]
    fingerprint: str
    policy: str
    shadow: bool
    enforced: bool
    client_ip: str
    method: str
    authority: str
    path: str
    user_agent: str
    ja4: str
    retry_after_s: int
    timestamp_ms: int
    username: str
    login_route: str
    own_score: int
    def __init__(self, request_id: _Optional[str] = ..., score: _Optional[int] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., action: _Optional[_Union[Action, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., fingerprint: _Optional[str] = ..., policy: _Optional[str] = ..., shadow: _Optional[bool] = ..., enforced: _Optional[bool] = ..., client_ip: _Optional[str] = ..., method: _Optional[str] = ..., authority: _Optional[str] = ..., path: _Optional[str] = ..., user_agent: _Optional[str] = ..., ja4: _Optional[str] = ..., retry_after_s: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., username: _Optional[str] = ..., login_route: _Optional[str] = ..., own_score: _Optional[int] = ...) -> None: ...
