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

{{/* The state directory (stateDir): the PersistentVolumeClaim mounted there, the operator's or `<fullname>-state` (empty
when the state directory is off or on an emptyDir), and the most replicas the Deployment can have. */}}
{{- define "botwall.stateDir.claimName" -}}
{{- if and .Values.stateDir.enabled .Values.stateDir.persistence.enabled }}
{{- default (printf "%s-state" (include "botwall.fullname" . | trunc 57 | trimSuffix "-")) .Values.stateDir.persistence.existingClaim }}
{{- end }}
{{- end }}

{{- define "botwall.maxReplicas" -}}
{{- ternary (int .Values.autoscaling.maxReplicas) (int .Values.replicas) .Values.autoscaling.enabled }}
{{- end }}

{{/* Autoscaling: what scales the Deployment ("" with autoscaling off, "keda" for a ScaledObject, "hpa" for the chart's
HorizontalPodAutoscaler), and the PromQL that reads the events' expected load: the largest value any of the release's
pods reports (each knows the events it was told of; a sum would count one event once per pod). The pods are those of
the Deployment: `<fullname>-<pod-template-hash>-<suffix>`, which no other release's Deployment matches. */}}
{{- define "botwall.autoscaler" -}}
{{- if .Values.autoscaling.enabled }}
{{- $eventLoad := .Values.autoscaling.eventLoad }}
{{- ternary "keda" "hpa" (and $eventLoad.enabled (eq $eventLoad.mode "keda")) }}
{{- end }}
{{- end }}

{{- /* rpsPerReplica as the HPA's quantity and KEDA's threshold: 400, not 4e+02 or 400.0. */}}
{{- define "botwall.eventLoad.rpsPerReplica" -}}
{{- $rps := float64 .Values.autoscaling.eventLoad.rpsPerReplica }}
{{- if eq $rps (float64 (int64 $rps)) }}{{ int64 $rps }}{{ else }}{{ $rps }}{{ end }}
{{- end }}

{{- define "botwall.eventLoad.query" -}}
{{- $keda := .Values.autoscaling.eventLoad.keda }}
{{- if $keda.query }}
{{- $keda.query }}
{{- else }}
{{- $pods := printf "%s-[a-z0-9]+-[a-z0-9]+" (include "botwall.fullname" . | replace "." "[.]") }}
{{- printf "max(botwall_event_expected_rps{namespace=%q,pod=~%q})" .Release.Namespace $pods }}
{{- end }}
{{- end }}

{{/* The admin listener: the token Secret's name (the operator's, else the generated one), the headless Service the
ServiceMonitor selects, and worker i's admin port name (admin, admin-1, ...: at most 15 characters). */}}
{{- define "botwall.admin.secretName" -}}
{{- default (printf "%s-admin-token" (include "botwall.fullname" .)) .Values.admin.tokenSecret.existingSecret }}
{{- end }}

{{- define "botwall.admin.fullname" -}}
{{- printf "%s-admin" (include "botwall.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- /* The admin Service's labels: the pods' name and instance, with a component of its own, so that the
ServiceMonitor selects it and not the ext_proc or gateway Service. */}}
{{- define "botwall.admin.selectorLabels" -}}
{{ include "botwall.selectorLabels" . }}
app.kubernetes.io/component: admin
{{- end }}

{{- define "botwall.admin.labels" -}}
helm.sh/chart: {{ include "botwall.chart" . }}
{{ include "botwall.admin.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "botwall.admin.portName" -}}
{{- if eq (int .) 0 }}admin{{ else }}{{ printf "admin-%d" (int .) }}{{ end }}
{{- end }}

{{/*
The config's `admin` section, appended to config.botwall after `state`: the paths the admin listener answers without
its bearer token. The probes' /healthz and /readyz always (the kubelet sends no token), /metrics with admin.openMetrics.
*/}}
{{- define "botwall.adminConfig" -}}
# The admin listener (botwall serve --admin-listen): these paths answer without its bearer token
# (BOTWALL_ADMIN_TOKEN); the kubelet's probes ask /healthz and /readyz. The Helm chart writes this section from its
# admin values (admin.openMetrics adds /metrics).
admin:
  open_paths: [/healthz, /readyz{{ if .Values.admin.openMetrics }}, /metrics{{ end }}]
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
{{- if and (not .Values.config.existingConfigMap) (hasKey (fromYaml .Values.config.botwall) "admin") }}
{{- fail "config.botwall must leave out the admin section: the chart appends it from the admin values (/healthz and /readyz open for the probes, /metrics with admin.openMetrics)" }}
{{- end }}
{{- if and .Values.config.existingConfigMap .Values.admin.openMetrics }}
{{- fail "admin.openMetrics needs the chart's config: with config.existingConfigMap, add /metrics to its admin.open_paths instead" }}
{{- end }}
{{- $workers := .Values.botwall.workers }}
{{- if or (lt (int $workers) 1) (gt (int $workers) 256) (ne (toString (int $workers)) (toString $workers)) }}
{{- fail (printf "botwall.workers must be a whole number from 1 to 256 (botwall processes per pod), got %v" $workers) }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq (toString .name) "BOTWALL_WORKERS" }}
{{- fail "set botwall.workers, not BOTWALL_WORKERS in extraEnv: the chart declares a port per worker and lists each in Envoy's cluster" }}
{{- end }}
{{- if has (toString .name) (list "BOTWALL_ADMIN_LISTEN" "BOTWALL_ADMIN_TOKEN") }}
{{- fail (printf "set admin.port and admin.tokenSecret, not %s in extraEnv: the chart runs the admin listener, probes it and scrapes it with the token" .name) }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
{{- if regexMatch "^--admin-(listen|token-file)(=.*)?$" (toString .) }}
{{- fail (printf "set admin.port and admin.tokenSecret, not %s in extraArgs: the chart runs the admin listener, probes it and scrapes it with the token" (toString .)) }}
{{- end }}
{{- end }}
{{- $scaling := .Values.autoscaling }}
{{- if $scaling.enabled }}
{{- $min := $scaling.minReplicas }}
{{- $max := $scaling.maxReplicas }}
{{- if or (ne (toString (int $min)) (toString $min)) (ne (toString (int $max)) (toString $max)) (lt (int $min) 1) (gt (int $min) (int $max)) }}
{{- fail (printf "autoscaling.minReplicas and autoscaling.maxReplicas must be whole numbers with 1 <= minReplicas <= maxReplicas, got %v and %v" $min $max) }}
{{- end }}
{{- end }}
{{- $eventLoad := $scaling.eventLoad }}
{{- if $eventLoad.enabled }}
{{- if not $scaling.enabled }}
{{- fail "autoscaling.eventLoad needs autoscaling.enabled: it adds the events' expected load to the autoscaler's metrics" }}
{{- end }}
{{- $rps := $eventLoad.rpsPerReplica }}
{{- if or (kindIs "invalid" $rps) (not (regexMatch "^[0-9]+(\\.[0-9]+)?(e[+-]?[0-9]+)?$" (lower (toString $rps)))) (le (float64 $rps) 0.0) }}
{{- fail (printf "autoscaling.eventLoad needs rpsPerReplica: the requests per second one replica handles (a number above 0), got %q" (toString $rps)) }}
{{- end }}
{{- if not (has $eventLoad.mode (list "keda" "prometheusAdapter")) }}
{{- fail (printf "autoscaling.eventLoad.mode must be \"keda\" (a KEDA ScaledObject) or \"prometheusAdapter\" (an HPA on prometheus-adapter's metric), got %q" (toString $eventLoad.mode)) }}
{{- end }}
{{- if eq $eventLoad.mode "keda" }}
{{- $keda := $eventLoad.keda }}
{{- if not (regexMatch "^https?://[^\\s]+$" (toString $keda.serverAddress)) }}
{{- fail (printf "autoscaling.eventLoad.keda.serverAddress must be the http:// or https:// address of the Prometheus KEDA queries, got %q" (toString $keda.serverAddress)) }}
{{- end }}
{{- if ne (empty $keda.authenticationRef) (empty $keda.authModes) }}
{{- fail "autoscaling.eventLoad.keda.authenticationRef and authModes go together: the TriggerAuthentication holds the credentials, authModes says which kind (bearer, basic, tls)" }}
{{- end }}
{{- $fullname := include "botwall.fullname" . }}
{{- if and (not $keda.query) (gt (len $fullname) 46) }}
{{- fail (printf "autoscaling.eventLoad's query picks the release's pods by name (<fullname>-<hash>-<suffix>), and Kubernetes shortens the pod names of a Deployment named over 46 characters (%q is %d): set a shorter fullnameOverride, or autoscaling.eventLoad.keda.query" $fullname (len $fullname)) }}
{{- end }}
{{- else if not .Values.metrics.serviceMonitor.enabled }}
{{- fail "autoscaling.eventLoad.mode prometheusAdapter needs metrics.serviceMonitor.enabled: the HPA reads botwall_event_expected_rps of the admin Service the ServiceMonitor scrapes (its series carry that service label)" }}
{{- end }}
{{- if and .Values.stateDir.enabled .Values.stateDir.persistence.enabled }}
{{- fail "autoscaling.eventLoad adds replicas ahead of an event, but stateDir.persistence mounts one PersistentVolumeClaim that a single pod can use: set stateDir.persistence.enabled=false (an emptyDir per pod) to scale on events" }}
{{- end }}
{{- end }}
{{- $stateDir := .Values.stateDir }}
{{- if $stateDir.enabled }}
{{- if or (not (hasPrefix "/" (toString $stateDir.path))) (eq (clean (toString $stateDir.path)) "/") }}
{{- fail (printf "stateDir.path must be an absolute directory path other than /, got %q" (toString $stateDir.path)) }}
{{- end }}
{{- if has (clean $stateDir.path) (list "/tmp" "/etc/botwall" (clean .Values.model.mountPath)) }}
{{- fail (printf "stateDir.path %s is already a mount of the botwall container (/tmp, /etc/botwall, model.mountPath): pick another, such as /var/lib/botwall" $stateDir.path) }}
{{- end }}
{{- $days := $stateDir.retentionDays }}
{{- if and (not (kindIs "invalid" $days)) (ne (toString $days) "") (le (float64 $days) 0.0) }}
{{- fail (printf "stateDir.retentionDays must be a number of days above 0, got %v" $days) }}
{{- end }}
{{- range .Values.extraArgs }}
{{- if regexMatch "^--state-(dir|retention-days)(=.*)?$" (toString .) }}
{{- fail (printf "set stateDir.path and stateDir.retentionDays, not %s in extraArgs: the chart mounts the state directory" (toString .)) }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq (toString .name) "BOTWALL_STATE_DIR" }}
{{- fail "set stateDir.path, not BOTWALL_STATE_DIR in extraEnv: the chart mounts the state directory and passes --state-dir" }}
{{- end }}
{{- end }}
{{- $replicas := int (include "botwall.maxReplicas" .) }}
{{- if and $stateDir.persistence.enabled (gt $replicas 1) }}
{{- fail (printf "stateDir.persistence needs a single replica, but %s is %d: every pod would mount the same PersistentVolumeClaim and write the same files (botwall-<worker>.db), and a ReadWriteOnce claim mounts on one node only. Set replicas=1 with autoscaling off, or stateDir.persistence.enabled=false for an emptyDir per pod (kept across botwall's restarts, not the pod's replacement)" (ternary "autoscaling.maxReplicas" "replicas" .Values.autoscaling.enabled) $replicas) }}
{{- end }}
{{- end }}
{{- $lastPort := add (int .Values.port) (int $workers) -1 }}
{{- if gt $lastPort 65535 }}
{{- fail (printf "botwall.workers %d from port %d runs past port 65535 (worker i listens on port + i)" (int $workers) (int .Values.port)) }}
{{- end }}
{{- $adminPort := .Values.admin.port }}
{{- if or (lt (int $adminPort) 1) (gt (int $adminPort) 65535) (ne (toString (int $adminPort)) (toString $adminPort)) }}
{{- fail (printf "admin.port must be a port number from 1 to 65535, got %v" $adminPort) }}
{{- end }}
{{- $lastAdminPort := add (int $adminPort) (int $workers) -1 }}
{{- if gt $lastAdminPort 65535 }}
{{- fail (printf "botwall.workers %d from admin.port %d runs past port 65535 (worker i's admin listener is on admin.port + i)" (int $workers) (int $adminPort)) }}
{{- end }}
{{- if and (le (int $adminPort) $lastPort) (ge $lastAdminPort (int .Values.port)) }}
{{- fail (printf "admin.port: botwall's admin ports (%d to %d: admin.port plus botwall.workers) meet its gRPC ports (%d to %d: port plus botwall.workers): pick another" (int $adminPort) $lastAdminPort (int .Values.port) $lastPort) }}
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
{{- if and (ge (int $envoyPort) (int $adminPort)) (le (int $envoyPort) $lastAdminPort) }}
{{- fail (printf "%s (%d) is one of botwall's admin ports in the pod (%d to %d: admin.port plus botwall.workers): pick another" $key (int $envoyPort) (int $adminPort) $lastAdminPort) }}
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
The botwall container, shared by both modes. Service mode serves gRPC on every address; sidecar mode on loopback only.
In both the admin listener is on every address (the kubelet probes the pod's), behind the token from its Secret but
for the config's admin.open_paths, and the probes are HTTP GETs on the first worker's: /readyz, /healthz, /readyz.
*/}}
{{- define "botwall.container" -}}
{{- $sidecar := eq .Values.mode "sidecar" }}
{{- $listen := printf "%s:%d" (ternary "127.0.0.1" "0.0.0.0" $sidecar) (int .Values.port) }}
{{- $ready := dict "httpGet" (dict "path" "/readyz" "port" (int .Values.admin.port)) }}
{{- $alive := dict "httpGet" (dict "path" "/healthz" "port" (int .Values.admin.port)) }}
- name: botwall
  image: {{ include "botwall.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - serve
    - --listen
    - {{ $listen | quote }}
    - --config
    - /etc/botwall/botwall.yaml
    {{- /* Worker i's admin listener on admin.port + i. */}}
    - --admin-listen
    - {{ printf "0.0.0.0:%d" (int .Values.admin.port) | quote }}
    {{- /* botwall.workers processes, worker i on port + i (one process, the image's default, without the flag). */}}
    {{- if gt (int .Values.botwall.workers) 1 }}
    - --workers
    - {{ int .Values.botwall.workers | quote }}
    {{- end }}
    {{- /* Service mode: NOT_SERVING yet still judging for drainDelaySeconds after SIGTERM, so that the Service and
    Envoy stop sending first. Sidecar mode: 0, as the sidecar gets SIGTERM only once Envoy (which drained) has exited. */}}
    - --drain-delay
    - {{ ternary 0 (int .Values.drainDelaySeconds) $sidecar | quote }}
    {{- /* stateDir: the admin API's records kept in SQLite files on the volume mounted there. */}}
    {{- if .Values.stateDir.enabled }}
    - --state-dir
    - {{ .Values.stateDir.path | quote }}
    {{- $days := .Values.stateDir.retentionDays }}
    {{- if and (not (kindIs "invalid" $days)) (ne (toString $days) "") }}
    - --state-retention-days
    - {{ toString $days | quote }}
    {{- end }}
    {{- end }}
    {{- range .Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if $sidecar }}
  restartPolicy: Always
  {{- end }}
  ports:
    {{- if not $sidecar }}
    {{- range $i := until (int .Values.botwall.workers) }}
    - name: {{ include "botwall.workerPortName" $i }}
      containerPort: {{ add (int $.Values.port) $i }}
      protocol: TCP
    {{- end }}
    {{- end }}
    {{- range $i := until (int .Values.botwall.workers) }}
    - name: {{ include "botwall.admin.portName" $i }}
      containerPort: {{ add (int $.Values.admin.port) $i }}
      protocol: TCP
    {{- end }}
  env:
    - name: BOTWALL_HEALTH_ADDRESS
      value: {{ printf "127.0.0.1:%d" (int .Values.port) | quote }}
    - name: BOTWALL_COOKIE_SECRET
      valueFrom:
        secretKeyRef:
          name: {{ default (printf "%s-cookie" (include "botwall.fullname" .)) .Values.cookieSecret.existingSecret }}
          key: {{ .Values.cookieSecret.key }}
    - name: BOTWALL_ADMIN_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ include "botwall.admin.secretName" . }}
          key: {{ .Values.admin.tokenSecret.key }}
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
    {{- toYaml (merge (deepCopy $ready) .Values.startupProbe) | nindent 4 }}
  livenessProbe:
    {{- toYaml (merge $alive .Values.livenessProbe) | nindent 4 }}
  readinessProbe:
    {{- toYaml (merge $ready .Values.readinessProbe) | nindent 4 }}
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
    {{- if .Values.stateDir.enabled }}
    - name: state-dir
      mountPath: {{ .Values.stateDir.path }}
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
