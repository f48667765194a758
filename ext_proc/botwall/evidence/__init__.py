"""Evidence: what botwall knows about a request, pillar by pillar (tool, infrastructure, credentials, behaviour).

Every module here is pure: it takes a RequestView (or plain values) and returns frozen dataclasses; none imports
grpc or Envoy's protos.
"""
