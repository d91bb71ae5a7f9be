{{- define "ferry.namespace" -}}
{{ .Values.namespace | default .Release.Namespace }}
{{- end -}}

{{- define "ferry.labels" -}}
app.kubernetes.io/name: ferry-controller
app.kubernetes.io/part-of: ferry
{{- end -}}

{{- define "ferry.selector" -}}
app.kubernetes.io/name: ferry-controller
{{- end -}}
