{{/* The release's prefix of every object's name. */}}
{{- define "vaxguard.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* A component's objects' name: <release>-<component>. Arguments: root, component. */}}
{{- define "vaxguard.name" -}}
{{- printf "%s-%s" (include "vaxguard.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What selects a component's pods. Arguments: root, component. */}}
{{- define "vaxguard.selectorLabels" -}}
app.kubernetes.io/name: vaxguard
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vaxguard.labels" -}}
{{ include "vaxguard.selectorLabels" . }}
app.kubernetes.io/part-of: vaxguard
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* A component's image: <registry>/<component>:<tag>. Arguments: root, component. */}}
{{- define "vaxguard.image" -}}
{{- $image := .root.Values.image -}}
{{- printf "%s/%s:%s" (required "image.registry is required" $image.registry) .component (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* host:port of a service inside the cluster. Arguments: root, component. */}}
{{- define "vaxguard.address" -}}
{{- $svc := index .root.Values.services .component -}}
{{- printf "%s:%v" (include "vaxguard.name" .) $svc.port -}}
{{- end -}}

{{/* The Secret a service's secret variables come from. Arguments: root, component, svc. */}}
{{- define "vaxguard.secretName" -}}
{{- default (include "vaxguard.name" .) .svc.secretName -}}
{{- end -}}

{{/* The witness's URL inside the cluster (its add-checkpoint prefix). */}}
{{- define "vaxguard.witnessUrl" -}}
{{- printf "http://%s:%v" (include "vaxguard.name" (dict "root" . "component" "witness")) .Values.witness.port -}}
{{- end -}}

{{/*
AUDIT_WITNESSES: the chart's witness and any extra ones, `name|url|vkey` comma-separated.
An audit log without a witness is an explicit choice elsewhere (`none`), never a default.
*/}}
{{- define "vaxguard.auditWitnesses" -}}
{{- $witnesses := list -}}
{{- if .Values.witness.enabled -}}
{{- $name := required "witness.name is required" .Values.witness.name -}}
{{- $vkey := required "witness.verifierKey is required" .Values.witness.verifierKey -}}
{{- $witnesses = append $witnesses (printf "%s|%s|%s" $name (include "vaxguard.witnessUrl" .) $vkey) -}}
{{- end -}}
{{- $witnesses = concat $witnesses .Values.services.audit.extraWitnesses -}}
{{- if not $witnesses -}}
{{- fail "the audit log needs a witness: enable witness or list services.audit.extraWitnesses" -}}
{{- end -}}
{{- join "," $witnesses -}}
{{- end -}}

{{/*
A service's plain variables (its ConfigMap): those every service reads, the addresses
of the services it calls, its own, and the installation's `env`. Arguments: root,
component, svc.
*/}}
{{- define "vaxguard.serviceConfig" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
GRPC_HOST: "0.0.0.0"
GRPC_PORT: {{ $svc.port | quote }}
KAFKA_BROKERS: {{ required "kafka.brokers is required" $root.Values.kafka.brokers | quote }}
LOG_LEVEL: {{ $root.Values.logLevel | quote }}
METRICS_PORT: {{ $root.Values.metrics.port | quote }}
HTTP_BIND_HOST: "0.0.0.0"
{{- with $root.Values.tracing.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- if $svc.calls }}
SERVICE_CLIENT_ID: {{ printf "svc-%s" .component | quote }}
{{- range $callee := $svc.calls }}
{{ printf "%s_GRPC_ADDRESS" ($callee | upper | replace "-" "_") }}: {{ include "vaxguard.address" (dict "root" $root "component" $callee) | quote }}
{{- end }}
{{- end }}
{{- if eq .component "vaccination-record" }}
ISSUER_URL: {{ required "services.vaccination-record.issuerUrl is required" $svc.issuerUrl | quote }}
{{- end }}
{{- if eq .component "audit" }}
AUDIT_STATE_DIR: {{ $svc.state.mountPath | quote }}
AUDIT_WITNESSES: {{ include "vaxguard.auditWitnesses" $root | quote }}
{{- end }}
{{- range $variable, $value := $svc.env }}
{{ $variable }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}
