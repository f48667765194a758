"""Deployment: Envoy's configuration for botwall, rendered from typed messages (the standalone gateway, the snippet
for an existing gateway, the bootstrap, the Helm chart's gateway), and the constants every form shares.

May import the edge and the core; the runtime never imports it on a request's path.
"""
