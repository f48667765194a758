"""Evidence: what botwall knows about a request, pillar by pillar (tool, infrastructure, credentials, behaviour).

Every module here is pure: it takes a RequestView (or plain values) and returns frozen dataclasses; none imports
grpc or Envoy's protos. The infrastructure pillar lives in `evidence/infra`.

May import only the ground floor (request, errors, clock); the config imports the settings types defined here
(login routes, IP data files), not the other way round.
"""
