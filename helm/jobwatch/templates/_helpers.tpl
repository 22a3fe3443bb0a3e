{{/* Chart name, overridable. */}}
{{- define "jobwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name: release-chart, or the release name alone when it already holds the chart name. */}}
{{- define "jobwatch.fullname" -}}
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

{{- define "jobwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jobwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jobwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jobwatch.labels" -}}
helm.sh/chart: {{ include "jobwatch.chart" . }}
{{ include "jobwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jobwatch
{{- if .Values.releaseLabel }}
release: {{ .Release.Name }}
{{- end }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "jobwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jobwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jobwatch.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{/* The only API access jobwatch needs: list and watch Jobs and Pods, and CronJobs when
watchCronJobs is on (so a deleted CronJob's series go). No get, no writes. */}}
{{- define "jobwatch.rbacRules" -}}
- apiGroups: ["batch"]
  resources: {{ if .Values.watchCronJobs }}["jobs", "cronjobs"]{{ else }}["jobs"]{{ end }}
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
{{- end }}

{{/* The Service's labels; the ServiceMonitor's jobLabel names one of them. */}}
{{- define "jobwatch.serviceLabels" -}}
{{ include "jobwatch.labels" . }}
{{- with .Values.service.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The `job` label prometheus-operator gives the exporter's series: the value of the Service
label named by jobLabel, or else the Service's name. */}}
{{- define "jobwatch.scrapeJob" -}}
{{- $labels := include "jobwatch.serviceLabels" . | fromYaml -}}
{{- $job := "" -}}
{{- with .Values.prometheus.monitor.jobLabel }}{{ $job = index $labels . | default "" | toString }}{{ end -}}
{{- $job | default (include "jobwatch.fullname" .) -}}
{{- end }}

{{/* Label matchers for the exporter's series in the rules and the dashboard. */}}
{{- define "jobwatch.selector" -}}
{{- .Values.monitoring.selector | default (printf "job=%q" (include "jobwatch.scrapeJob" .)) -}}
{{- end }}

{{/* Seconds in a Prometheus duration such as 1h30m (y w d h m s), as jobwatch render computes. */}}
{{- define "jobwatch.seconds" -}}
{{- $units := dict "y" 31536000 "w" 604800 "d" 86400 "h" 3600 "m" 60 "s" 1 -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+[ywdhms]" . -1 -}}
{{- $unit := regexFind "[ywdhms]$" . -}}
{{- $total = add $total (mul (trimSuffix $unit . | atoi) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end }}

{{/* A probe from values; with TLS on, its httpGet uses HTTPS. Args: (list probe https). */}}
{{- define "jobwatch.probe" -}}
{{- $probe := deepCopy (index . 0) -}}
{{- if and (index . 1) $probe.httpGet -}}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end }}
