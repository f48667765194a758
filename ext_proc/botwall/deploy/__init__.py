"""Deployment: every Envoy config botwall ships, rendered from typed Envoy messages by one owner. `messages` holds
the typed pieces (the only importer of Envoy's configuration protos); `gateway` builds the standalone gateway
(`botwall up`, the bootstrap, the Helm chart's sidecar, the tests); `envoy_config` the `botwall envoy-config` forms
(snippet, bootstrap); `kubernetes` the Istio EnvoyFilter and the Envoy Gateway policies; `examples` the committed
files under envoy/ and the chart's gateway (`make envoy-configs`). The shared names live lower: the filter name and
attribute keys in `botwall.request`, the processing modes in `botwall.edge.envoy_api`.

May import the edge and the core; the runtime never imports it on a request's path.
"""
