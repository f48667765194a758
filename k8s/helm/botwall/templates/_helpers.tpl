{{/* Names, labels and the pieces shared by both modes. */}}

{{- define "botwall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "botwall.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "botwall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "botwall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "botwall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "botwall.labels" -}}
helm.sh/chart: {{ include "botwall.chart" . }}
{{ include "botwall.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ ternary "gateway" "ext-proc" (eq .Values.mode "sidecar") }}
{{- end }}

{{- define "botwall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "botwall.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "botwall.configMapName" -}}
{{- default (include "botwall.fullname" .) .Values.config.existingConfigMap }}
{{- end }}

{{- define "botwall.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Shared state: the bundled Redis's names and labels, where botwall finds Redis (state.redis.url, else the bundled
one), where the CA Secret is mounted, and the config's state section. */}}
{{- define "botwall.redis.fullname" -}}
{{- printf "%s-redis" (include "botwall.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "botwall.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "botwall.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "botwall.redis.labels" -}}
helm.sh/chart: {{ include "botwall.chart" . }}
{{ include "botwall.redis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.redis.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: state
{{- end }}

{{- define "botwall.redis.url" -}}
{{- default (printf "redis://%s.%s.svc.cluster.local:6379/0" (include "botwall.redis.fullname" .) .Release.Namespace) .Values.state.redis.url }}
{{- end }}

{{- define "botwall.redis.caDir" -}}
/etc/botwall-redis-ca
{{- end }}

{{/*
The config's `state` section, appended to config.botwall: a comment, then the values in the shape
botwall.config.parse_config reads (tests/deploy/test_helm.py parses every case's result).
*/}}
{{- define "botwall.stateConfig" -}}
{{- $s := .Values.state -}}
# Shared state. memory: each replica counts only the requests it judges, so a client spread over N replicas
# shows each of them 1/N of its requests. redis: the replicas share their counts (state.redis: url, prefix,
# password_env, ca_file, sync_interval_ms, timeout_ms). The Helm chart writes this section from its state values.
state:
  backend: {{ $s.backend }}
  max_entries: {{ int $s.maxEntries }}
  ttl_seconds: {{ int $s.ttlSeconds }}
  {{- if eq $s.backend "redis" }}
  redis:
    url: {{ include "botwall.redis.url" . | quote }}
    prefix: {{ default .Release.Name $s.redis.prefix | quote }}
    {{- if $s.redis.existingSecret }}
    password_env: BOTWALL_REDIS_PASSWORD
    {{- end }}
    {{- if $s.redis.caSecret }}
    ca_file: {{ include "botwall.redis.caDir" . }}/ca.crt
    {{- end }}
    sync_interval_ms: {{ int $s.redis.syncIntervalMs }}
    timeout_ms: {{ int $s.redis.timeoutMs }}
  {{- end }}
{{- end }}

{{/* Fail early, with a message, on values that cannot work. */}}
{{- define "botwall.validate" -}}
{{- if not (has .Values.mode (list "service" "sidecar")) }}
{{- fail (printf "mode must be \"service\" or \"sidecar\", got %q" (toString .Values.mode)) }}
{{- end }}
{{- if eq .Values.mode "sidecar" }}
{{- if not .Values.envoy.upstream.host }}
{{- fail "sidecar mode needs envoy.upstream.host: the application Envoy forwards requests to" }}
{{- end }}
{{- if and .Values.envoy.tls.enabled (not .Values.envoy.tls.secretName) }}
{{- fail "envoy.tls.enabled needs envoy.tls.secretName: a kubernetes.io/tls Secret with tls.crt and tls.key" }}
{{- end }}
{{- end }}
{{- $state := .Values.state }}
{{- if not (has $state.backend (list "memory" "redis")) }}
{{- fail (printf "state.backend must be \"memory\" or \"redis\", got %q" (toString $state.backend)) }}
{{- end }}
{{- if eq $state.backend "memory" }}
{{- range $key, $set := dict "redis.enabled" .Values.redis.enabled "state.redis.url" $state.redis.url "state.redis.existingSecret" $state.redis.existingSecret "state.redis.caSecret" $state.redis.caSecret }}
{{- if $set }}
{{- fail (printf "%s is set but state.backend is memory: set state.backend=redis to share state through Redis" $key) }}
{{- end }}
{{- end }}
{{- else }}
{{- if and .Values.redis.enabled $state.redis.url }}
{{- fail "state.redis.url and redis.enabled exclude each other: the url names an existing Redis, redis.enabled bundles one" }}
{{- end }}
{{- if not (or .Values.redis.enabled $state.redis.url .Values.config.existingConfigMap) }}
{{- fail "state.backend redis needs state.redis.url (an existing Redis) or redis.enabled (a bundled one, for trying it out)" }}
{{- end }}
{{- if and $state.redis.caSecret (or $state.redis.url .Values.redis.enabled) (not (hasPrefix "rediss://" (include "botwall.redis.url" .))) }}
{{- fail "state.redis.caSecret is for a TLS Redis: state.redis.url must start with rediss://" }}
{{- end }}
{{- if not (regexMatch "^[^\\s{}]{1,64}$" (default .Release.Name $state.redis.prefix)) }}
{{- fail (printf "state.redis.prefix must be 1-64 characters without spaces or braces, got %q" (toString $state.redis.prefix)) }}
{{- end }}
{{- end }}
{{- if and (not .Values.config.existingConfigMap) (hasKey (fromYaml .Values.config.botwall) "state") }}
{{- fail "config.botwall must leave out the state section: the chart appends it from the state values (state.backend, state.maxEntries, state.ttlSeconds, state.redis)" }}
{{- end }}
{{- $workers := .Values.botwall.workers }}
{{- if or (lt (int $workers) 1) (gt (int $workers) 256) (ne (toString (int $workers)) (toString $workers)) }}
{{- fail (printf "botwall.workers must be a whole number from 1 to 256 (botwall processes per pod), got %v" $workers) }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq (toString .name) "BOTWALL_WORKERS" }}
{{- fail "set botwall.workers, not BOTWALL_WORKERS in extraEnv: the chart declares a port per worker and lists each in Envoy's cluster" }}
{{- end }}
{{- end }}
{{- $lastPort := add (int .Values.port) (int $workers) -1 }}
{{- if gt $lastPort 65535 }}
{{- fail (printf "botwall.workers %d from port %d runs past port 65535 (worker i listens on port + i)" (int $workers) (int .Values.port)) }}
{{- end }}
{{- if eq .Values.mode "sidecar" }}
{{- $envoyPorts := dict "envoy.httpPort" .Values.envoy.httpPort "envoy.adminPort" .Values.envoy.adminPort }}
{{- if .Values.envoy.tls.enabled }}
{{- $_ := set $envoyPorts "envoy.tls.port" .Values.envoy.tls.port }}
{{- end }}
{{- range $key, $envoyPort := $envoyPorts }}
{{- if and (ge (int $envoyPort) (int $.Values.port)) (le (int $envoyPort) $lastPort) }}
{{- fail (printf "%s (%d) is one of botwall's ports in the pod (%d to %d: port plus botwall.workers): pick another" $key (int $envoyPort) (int $.Values.port) $lastPort) }}
{{- end }}
{{- end }}
{{- end }}
{{- if lt (int .Values.drainDelaySeconds) 0 }}
{{- fail (printf "drainDelaySeconds must be 0 or more, got %v" .Values.drainDelaySeconds) }}
{{- end }}
{{- if le (int .Values.pod.terminationGracePeriodSeconds) (add (int .Values.drainDelaySeconds) 10) }}
{{- fail (printf "pod.terminationGracePeriodSeconds (%d) must be more than drainDelaySeconds (%d) + 10 seconds for in-flight streams" (int .Values.pod.terminationGracePeriodSeconds) (int .Values.drainDelaySeconds)) }}
{{- end }}
{{- end }}

{{/* Worker i's port name (grpc, grpc-1, grpc-2, ...: at most 15 characters, as Kubernetes requires). */}}
{{- define "botwall.workerPortName" -}}
{{- if eq (int .) 0 }}grpc{{ else }}{{ printf "grpc-%d" (int .) }}{{ end }}
{{- end }}

{{/*
The botwall container, shared by both modes. Service mode listens on every address and probes gRPC health on the
port; sidecar mode listens on loopback only, where the kubelet cannot connect, so its probes run the image's
healthcheck module inside the container instead.
*/}}
{{- define "botwall.container" -}}
{{- $sidecar := eq .Values.mode "sidecar" }}
{{- $listen := printf "%s:%d" (ternary "127.0.0.1" "0.0.0.0" $sidecar) (int .Values.port) }}
{{- $handler := dict "grpc" (dict "port" (int .Values.port)) }}
{{- if $sidecar }}
{{- $handler = dict "exec" (dict "command" (list "python" "-m" "botwall.edge.healthcheck" "--address" (printf "127.0.0.1:%d" (int .Values.port)))) }}
{{- end }}
- name: botwall
  image: {{ include "botwall.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - serve
    - --listen
    - {{ $listen | quote }}
    - --config
    - /etc/botwall/botwall.yaml
    {{- /* botwall.workers processes, worker i on port + i (one process, the image's default, without the flag). */}}
    {{- if gt (int .Values.botwall.workers) 1 }}
    - --workers
    - {{ int .Values.botwall.workers | quote }}
    {{- end }}
    {{- /* Service mode: NOT_SERVING yet still judging for drainDelaySeconds after SIGTERM, so that the Service and
    Envoy stop sending first. Sidecar mode: 0, as the sidecar gets SIGTERM only once Envoy (which drained) has exited. */}}
    - --drain-delay
    - {{ ternary 0 (int .Values.drainDelaySeconds) $sidecar | quote }}
    {{- range .Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if $sidecar }}
  restartPolicy: Always
  {{- else }}
  ports:
    {{- range $i := until (int .Values.botwall.workers) }}
    - name: {{ include "botwall.workerPortName" $i }}
      containerPort: {{ add (int $.Values.port) $i }}
      protocol: TCP
    {{- end }}
  {{- end }}
  env:
    - name: BOTWALL_HEALTH_ADDRESS
      value: {{ printf "127.0.0.1:%d" (int .Values.port) | quote }}
    - name: BOTWALL_COOKIE_SECRET
      valueFrom:
        secretKeyRef:
          name: {{ default (printf "%s-cookie" (include "botwall.fullname" .)) .Values.cookieSecret.existingSecret }}
          key: {{ .Values.cookieSecret.key }}
    {{- if and (eq .Values.state.backend "redis") .Values.state.redis.existingSecret }}
    - name: BOTWALL_REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ .Values.state.redis.existingSecret }}
          key: {{ .Values.state.redis.passwordKey }}
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  startupProbe:
    {{- toYaml (merge (deepCopy $handler) .Values.startupProbe) | nindent 4 }}
  livenessProbe:
    {{- toYaml (merge (deepCopy $handler) .Values.livenessProbe) | nindent 4 }}
  readinessProbe:
    {{- toYaml (merge (deepCopy $handler) .Values.readinessProbe) | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/botwall
      readOnly: true
    - name: tmp
      mountPath: /tmp
    {{- if .Values.model.volume }}
    - name: model
      mountPath: {{ .Values.model.mountPath }}
      readOnly: true
    {{- end }}
    {{- if and (eq .Values.state.backend "redis") .Values.state.redis.caSecret }}
    - name: redis-ca
      mountPath: {{ include "botwall.redis.caDir" . }}
      readOnly: true
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
