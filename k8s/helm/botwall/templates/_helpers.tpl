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
{{- if lt (int .Values.drainDelaySeconds) 0 }}
{{- fail (printf "drainDelaySeconds must be 0 or more, got %v" .Values.drainDelaySeconds) }}
{{- end }}
{{- if le (int .Values.pod.terminationGracePeriodSeconds) (add (int .Values.drainDelaySeconds) 10) }}
{{- fail (printf "pod.terminationGracePeriodSeconds (%d) must be more than drainDelaySeconds (%d) + 10 seconds for in-flight streams" (int .Values.pod.terminationGracePeriodSeconds) (int .Values.drainDelaySeconds)) }}
{{- end }}
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
    - name: grpc
      containerPort: {{ .Values.port }}
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
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
