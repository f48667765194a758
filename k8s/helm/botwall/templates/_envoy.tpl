{{/*
Sidecar mode's Envoy config: files/gateway.yaml, the standalone gateway botwall renders for this chart (Envoy on every
address, botwall on 127.0.0.1, the upstream named by DNS, the certificate from the TLS Secret; `make envoy-configs`
writes it, from botwall.deploy, like every Envoy config in the repository), with this release's values filled in:
the ports (botwall's cluster gets one endpoint per worker, botwall.workers), the upstream, the failure mode, the
message timeout, the trusted hops and the route timeout; the HTTPS listener only with TLS on. tests/deploy/test_helm.py
checks that the result is what botwall itself renders for these values, validates it with Envoy and boots it with real
traffic.
*/}}

{{- define "botwall.envoyConfig" -}}
{{- $v := .Values.envoy }}
{{- $cfg := .Files.Get "files/gateway.yaml" | fromYaml }}
{{- $_ := set $cfg.admin.address.socket_address "port_value" (int $v.adminPort) }}
{{- $listeners := list }}
{{- range $listener := $cfg.static_resources.listeners }}
{{- $port := 0 }}
{{- if eq $listener.name "http" }}
{{- $port = $v.httpPort }}
{{- else if and (eq $listener.name "https") $v.tls.enabled }}
{{- $port = $v.tls.port }}
{{- end }}
{{- if $port }}
{{- $_ := set $listener.address.socket_address "port_value" (int $port) }}
{{- range $chain := $listener.filter_chains }}
{{- range $filter := $chain.filters }}
{{- if eq $filter.name "envoy.filters.network.http_connection_manager" }}
{{- $hcm := $filter.typed_config }}
{{- $_ := set $hcm "xff_num_trusted_hops" (int $v.trustedHops) }}
{{- range $httpFilter := $hcm.http_filters }}
{{- if eq $httpFilter.name "envoy.filters.http.ext_proc" }}
{{- $_ := set $httpFilter.typed_config "failure_mode_allow" $v.failureModeAllow }}
{{- $_ := set $httpFilter.typed_config "message_timeout" $v.messageTimeout }}
{{- end }}
{{- end }}
{{- range $vhost := $hcm.route_config.virtual_hosts }}
{{- range $route := $vhost.routes }}
{{- if and $route.route (eq (toString $route.route.cluster) "upstream") }}
{{- $_ := set $route.route "timeout" $v.upstream.timeout }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $listeners = append $listeners $listener }}
{{- end }}
{{- end }}
{{- $_ := set $cfg.static_resources "listeners" $listeners }}
{{- $workers := int .Values.botwall.workers }}
{{- range $cluster := $cfg.static_resources.clusters }}
{{- $locality := index $cluster.load_assignment.endpoints 0 }}
{{- $first := index $locality.lb_endpoints 0 }}
{{- if eq $cluster.name "botwall" }}
{{- /* One endpoint per worker (botwall.workers), at port + i, as `botwall envoy-config --botwall-workers N`. */}}
{{- $endpoints := list }}
{{- range $i := until $workers }}
{{- $endpoint := deepCopy $first }}
{{- $_ := set $endpoint.endpoint.address.socket_address "port_value" (add (int $.Values.port) $i) }}
{{- $endpoints = append $endpoints $endpoint }}
{{- end }}
{{- $_ := set $locality "lb_endpoints" $endpoints }}
{{- else if eq $cluster.name "upstream" }}
{{- $socket := $first.endpoint.address.socket_address }}
{{- $_ := set $socket "address" $v.upstream.host }}
{{- $_ := set $socket "port_value" (int $v.upstream.port) }}
{{- end }}
{{- end }}
{{- $at := printf "127.0.0.1:%d" (int .Values.port) }}
{{- if gt $workers 1 }}
{{- $at = printf "127.0.0.1, ports %d to %d (%d workers)" (int .Values.port) (add (int .Values.port) $workers -1) $workers }}
{{- end }}
# Envoy in front of {{ $v.upstream.host }}:{{ $v.upstream.port }}, with botwall as its ext_proc processor on {{ $at }}:
# the chart's files/gateway.yaml with this release's values. failure_mode_allow: {{ $v.failureModeAllow }}, that is
# {{ ternary "fail-open: when botwall is down or slow, requests pass untagged." "fail-closed: Envoy answers 500 when botwall is down, 504 when it is slow." $v.failureModeAllow }}
{{ toYaml $cfg }}
{{- end }}
