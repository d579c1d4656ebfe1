{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "serinus.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name, or release-chart when they differ. */}}
{{- define "serinus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "serinus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "serinus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "serinus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "serinus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: serinus
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "serinus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "serinus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "serinus.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: pin a version; `latest` makes rollbacks of the operator itself unpredictable" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/*
The rules the operator needs in the namespaces it watches, each verb justified:
- rollouts: listed and watched by the operator's watch cache (list/watch), read (get); status
  written through the status subresource.
- deployments/services: the deployment and helm platforms create a Deployment and a Service per
  color, scale them and tear them down (delete); configmaps and ingresses are objects of a
  user's chart the helm platform applies and removes; ingresses also carry the NGINX canary.
- events: one per saved status that has events (create).
- Istio VirtualServices and DestinationRules, Gateway API HTTPRoutes: read and rewritten with
  optimistic concurrency (get/update), never created or deleted by serinus.
- list/watch on deployments, services, pods, ingresses and the routing objects: the operator's
  watch cache (adapters/kube/cache.py) lists each once and watches it instead of reading it
  on every reconcile.
*/}}
{{- define "serinus.rules" -}}
# Exactly what the operator calls (tests/integration/realkube derives it from the API server's
# audit log of a full pipeline per workload and router): no patch, which it never does.
- apiGroups: ["serinus.io"]
  resources: ["rollouts"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["serinus.io"]
  resources: ["rollouts/status"]
  verbs: ["get", "update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
{{- if .Values.analysis.jobs }}
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create", "delete"]
{{- end }}
{{- if .Values.notifications.secretAccess }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  {{- with .Values.notifications.secretNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end -}}
