{{/* Names, labels and the pieces every MPI workload shares. */}}

{{- define "mpi.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "api"). */}}
{{- define "mpi.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mpi.labels" -}}
{{ include "mpi.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: mpi
{{- end -}}

{{/* An MPI image reference; call with (dict "root" $ "image" .Values.api.image). */}}
{{- define "mpi.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- with .root.Values.image.registry -}}{{ . }}/{{- end -}}
{{ .image.repository }}:{{ $tag }}
{{- end -}}

{{- define "mpi.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-connections" (include "mpi.fullname" .)) -}}
{{- end -}}

{{/* The chart-rendered Secret's data (empty with an existing Secret). */}}
{{- define "mpi.secretData" -}}
{{- if not .Values.secrets.existingSecret -}}
{{ .Values.secrets.databaseUrlKey }}: {{ required "set secrets.databaseUrl (or secrets.existingSecret)" .Values.secrets.databaseUrl | b64enc | quote }}
{{ .Values.secrets.redisUrlKey }}: {{ required "set secrets.redisUrl (or secrets.existingSecret)" .Values.secrets.redisUrl | b64enc | quote }}
{{- end -}}
{{- end -}}

{{/* Credentials as env from the Secret; call with (dict "root" $ "redis" true). */}}
{{- define "mpi.secretEnv" -}}
- name: MPI_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "mpi.secretName" .root }}
      key: {{ .root.Values.secrets.databaseUrlKey }}
{{- if .redis }}
- name: MPI_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "mpi.secretName" .root }}
      key: {{ .root.Values.secrets.redisUrlKey }}
{{- end }}
{{- end -}}

{{/* Relay and worker share one ConfigMap: both read the classifier's settings. */}}
{{- define "mpi.configComponent" -}}
{{- has .component (list "relay" "worker") | ternary "classifier" .component -}}
{{- end -}}

{{/* A component's plain settings: its `config` plus what the chart derives. Returns YAML. */}}
{{- define "mpi.config" -}}
{{- $root := .root -}}
{{- $fullname := include "mpi.fullname" $root -}}
{{- $name := include "mpi.configComponent" . -}}
{{- $config := deepCopy (index $root.Values $name "config") -}}
{{- if eq $name "api" -}}
{{- $_ := set $config "MPI_API_LINKER_URL" (printf "http://%s-linker:%v" $fullname $root.Values.linker.service.port) -}}
{{- else if and (eq $name "linker") $root.Values.linker.model.configMap -}}
{{- $_ := set $config "MPI_LINKER_MODEL_PATH" (printf "/etc/mpi/linker-model/%s" $root.Values.linker.model.key) -}}
{{- else if eq $name "classifier" -}}
{{- if $root.Values.vllm.enabled -}}
{{- $_ := set $config "MPI_CLASSIFIER_BACKEND" "vllm" -}}
{{- $_ := set $config "MPI_CLASSIFIER_URL" (printf "http://%s-vllm:%v" $fullname $root.Values.vllm.service.port) -}}
{{- $_ := set $config "MPI_CLASSIFIER_MODEL" $root.Values.vllm.servedModelName -}}
{{- end -}}
{{- with $root.Values.classifier.modelCard.configMap -}}
{{- $_ := set $config "MPI_CLASSIFIER_MODEL_CARD" (printf "/etc/mpi/classifier-card/%s" $root.Values.classifier.modelCard.key) -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := $config }}
{{ $key }}: {{ $value | toString | quote }}
{{- end -}}
{{- end -}}

{{- define "mpi.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The Deployment of an MPI process (api, linker, relay, worker). Call with
(dict "root" $ "component" "api" "command" (list ...) "port" 8000 "redis" false "scaled" true
      "volumes" (list) "volumeMounts" (list)).
*/}}
{{- define "mpi.deployment" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .component -}}
{{- $config := include "mpi.config" . | trim -}}
{{- $labels := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "mpi.fullname" $root }}-{{ .component }}
  labels:
    {{- include "mpi.labels" $labels | nindent 4 }}
spec:
  {{- if not .scaled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "mpi.selectorLabels" $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "mpi.labels" $labels | nindent 8 }}
      annotations:
        # Roll the pods when their settings or credentials change.
        checksum/config: {{ $config | sha256sum }}
        checksum/secret: {{ include "mpi.secretData" $root | sha256sum }}
        {{- if .port }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
    spec:
      {{- with $root.Values.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "mpi.image" (dict "root" $root "image" $values.image) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml .command | nindent 12 }}
          {{- if .port }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          {{- end }}
          {{- if $config }}
          envFrom:
            - configMapRef:
                name: {{ include "mpi.fullname" $root }}-{{ include "mpi.configComponent" . }}
          {{- end }}
          env:
            {{- include "mpi.secretEnv" . | nindent 12 }}
          {{- with $values.startupProbe }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          livenessProbe:
            {{- toYaml $values.livenessProbe | nindent 12 }}
          readinessProbe:
            {{- toYaml $values.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            # The root filesystem is read-only; libraries that spill or cache write here.
            - name: tmp
              mountPath: /tmp
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with include "mpi.scheduling" $values | trim }}
      {{- . | nindent 6 }}
      {{- end }}
{{- end -}}

{{/* The ConfigMap of a component's plain settings, if it has any. */}}
{{- define "mpi.configMap" -}}
{{- $config := include "mpi.config" . | trim -}}
{{- $name := include "mpi.configComponent" . -}}
{{- if $config }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "mpi.fullname" .root }}-{{ $name }}
  labels:
    {{- include "mpi.labels" (dict "root" .root "component" $name) | nindent 4 }}
data:
  {{- $config | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The ClusterIP Service of a component with a port. */}}
{{- define "mpi.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "mpi.fullname" .root }}-{{ .component }}
  labels:
    {{- include "mpi.labels" . | nindent 4 }}
spec:
  type: {{ .type | default "ClusterIP" }}
  selector:
    {{- include "mpi.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .port }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{/* A NetworkPolicy ingress rule for /metrics scrapes from networkPolicy.metricsFrom. */}}
{{- define "mpi.metricsRule" -}}
{{- with .metricsFrom }}
- from:
    {{- toYaml . | nindent 4 }}
  ports:
    - port: http
      protocol: TCP
{{- end }}
{{- end -}}
