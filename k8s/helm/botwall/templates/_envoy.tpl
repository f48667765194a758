{{/*
Sidecar mode's Envoy config: the repository's standalone gateway (files/gateway.yaml is a link to envoy/gateway.yaml,
so the chart never drifts from it) with what `botwall up` fills in too: the listeners' addresses, the upstream (a DNS
name here: a STRICT_DNS cluster), the TLS files, the failure mode, the trusted hops. botwall stays on 127.0.0.1.
tests/deploy/test_helm.py validates it with Envoy and boots it with real traffic.
*/}}

{{- define "botwall.envoy.socket" -}}
{{- dict "socket_address" (dict "address" .address "port_value" (int .port)) | toJson }}
{{- end }}

{{- define "botwall.envoyConfig" -}}
{{- $v := .Values.envoy }}
{{- $cfg := .Files.Get "files/gateway.yaml" | fromYaml }}
{{- $_ := set $cfg.admin "address" (include "botwall.envoy.socket" (dict "address" "127.0.0.1" "port" $v.adminPort) | fromJson) }}
{{- $listeners := list }}
{{- range $listener := $cfg.static_resources.listeners }}
{{- $port := 0 }}
{{- if eq $listener.name "http" }}
{{- $port = $v.httpPort }}
{{- else if and (eq $listener.name "https") $v.tls.enabled }}
{{- $port = $v.tls.port }}
{{- end }}
{{- if $port }}
{{- $_ := set $listener "address" (include "botwall.envoy.socket" (dict "address" "0.0.0.0" "port" $port) | fromJson) }}
{{- range $chain := $listener.filter_chains }}
{{- if $chain.transport_socket }}
{{- $certificate := index $chain.transport_socket.typed_config.common_tls_context.tls_certificates 0 }}
{{- $_ := set $certificate "certificate_chain" (dict "filename" "/etc/envoy/tls/tls.crt") }}
{{- $_ := set $certificate "private_key" (dict "filename" "/etc/envoy/tls/tls.key") }}
{{- end }}
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
{{- range $cluster := $cfg.static_resources.clusters }}
{{- $endpoint := (index (index $cluster.load_assignment.endpoints 0).lb_endpoints 0).endpoint }}
{{- if eq $cluster.name "botwall" }}
{{- $_ := set $endpoint "address" (include "botwall.envoy.socket" (dict "address" "127.0.0.1" "port" $.Values.port) | fromJson) }}
{{- else if eq $cluster.name "upstream" }}
{{- $_ := set $cluster "type" "STRICT_DNS" }}
{{- $_ := set $endpoint "address" (include "botwall.envoy.socket" (dict "address" $v.upstream.host "port" $v.upstream.port) | fromJson) }}
{{- end }}
{{- end }}
# Envoy in front of {{ $v.upstream.host }}:{{ $v.upstream.port }}, with botwall as its ext_proc processor on 127.0.0.1:{{ .Values.port }}:
# botwall's envoy/gateway.yaml with this release's addresses. failure_mode_allow: {{ $v.failureModeAllow }}, that is
# {{ ternary "fail-open: when botwall is down or slow, requests pass untagged." "fail-closed: Envoy answers 500 when botwall is down, 504 when it is slow." $v.failureModeAllow }}
{{ toYaml $cfg }}
{{- end }}
