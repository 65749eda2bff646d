#!/usr/bin/env bash
# Stands up a local Kubernetes cluster for the platform with kind (needs Docker):
# the Gateway API CRDs and Istio (the edge Gateway and the mesh), cert-manager (with its Gateway
# API support), the prometheus-operator (for the PodMonitors), Argo Rollouts with its Gateway
# API traffic-router plugin (deploy/cluster), optionally Argo CD, then the dev environment.
#
#   scripts/k8s/kind-up.sh                 cluster + add-ons + dev overlay applied with kubectl
#   MODE=argocd scripts/k8s/kind-up.sh     cluster + add-ons + Argo CD syncing the Applications
#   GHCR_USERNAME=... GHCR_TOKEN=... scripts/k8s/kind-up.sh   also creates the image pull secret
#   LOAD_IMAGES=1 scripts/k8s/kind-up.sh   loads locally built ghcr.io/mdp-example/<service>:dev
#                                          images (scripts/build-images.sh) into the nodes
#   scripts/k8s/kind-up.sh --delete        deletes the cluster
#
# Then `kubectl -n mdp-dev port-forward service/mdp-istio 8443:443` and
# https://mdp.localtest.me:8443/ (self-signed certificate) reaches the gateway through the edge
# Envoy that istiod runs for the Gateway mdp; localtest.me resolves to 127.0.0.1.
# Requires docker, kind (>= 0.24, whose kindnet enforces NetworkPolicies), kubectl, istioctl and kubectl-argo-rollouts.
set -euo pipefail

cluster="${CLUSTER_NAME:-mdp}"
mode="${MODE:-kubectl}"
gateway_api_version="${GATEWAY_API_VERSION:-v1.6.3}"
argo_rollouts_version="${ARGO_ROLLOUTS_VERSION:-v1.10.1}"
cert_manager_version="${CERT_MANAGER_VERSION:-v1.16.2}"
prometheus_operator_version="${PROMETHEUS_OPERATOR_VERSION:-v0.79.2}"
argocd_version="${ARGOCD_VERSION:-v2.13.2}"
namespace=mdp-dev
services=(api-gateway user-service product-service order-service notification-service)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

need() { command -v "$1" >/dev/null 2>&1 || { echo "kind-up: $1 is required ($2)" >&2; exit 1; }; }
need docker "https://docs.docker.com/engine/install/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need istioctl "https://istio.io/latest/docs/setup/getting-started/#download"
need kubectl-argo-rollouts "https://argo-rollouts.readthedocs.io/en/stable/installation/#kubectl-plugin-installation"

if [[ "${1:-}" == "--delete" ]]; then
  kind delete cluster --name "$cluster"
  exit 0
fi

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    kubeadmConfigPatches:
      - |
        kind: InitConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            node-labels: "ingress-ready=true"
    extraPortMappings:
      - containerPort: 80
        hostPort: 80
        protocol: TCP
      - containerPort: 443
        hostPort: 443
        protocol: TCP
  - role: worker
  - role: worker
KIND
fi
kubectl config use-context "kind-$cluster" >/dev/null

echo "kind-up: Gateway API $gateway_api_version (standard channel CRDs)"
kubectl apply --server-side \
  -f "https://github.com/kubernetes-sigs/gateway-api/releases/download/${gateway_api_version}/standard-install.yaml"

echo "kind-up: Istio (istiod and the CNI node agent: sidecars without privileged init containers)"
istioctl install -y --set profile=minimal --set components.cni.enabled=true \
  --set values.pilot.env.ENABLE_NATIVE_SIDECARS=true

echo "kind-up: cert-manager $cert_manager_version"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/${cert_manager_version}/cert-manager.yaml"
kubectl wait --namespace cert-manager --for=condition=Available deployment --all --timeout=180s
# The HTTP-01 solver of the ClusterIssuers attaches HTTPRoutes: cert-manager's Gateway API support.
kubectl -n cert-manager patch deployment cert-manager --type=json \
  -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--enable-gateway-api"}]'
kubectl -n cert-manager rollout status deployment/cert-manager --timeout=180s

echo "kind-up: Argo Rollouts $argo_rollouts_version"
kubectl create namespace argo-rollouts --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n argo-rollouts \
  -f "https://github.com/argoproj/argo-rollouts/releases/download/${argo_rollouts_version}/install.yaml"

echo "kind-up: prometheus-operator $prometheus_operator_version (CRDs for the PodMonitors)"
# The bundle's CRDs exceed the client-side apply annotation limit: apply them server-side.
kubectl apply --server-side --force-conflicts \
  -f "https://github.com/prometheus-operator/prometheus-operator/releases/download/${prometheus_operator_version}/bundle.yaml"

echo "kind-up: cluster issuers, Argo Rollouts' plugin configuration"
kubectl apply -k deploy/cluster
# The controller loads its traffic-router plugins at start.
kubectl -n argo-rollouts rollout restart deployment/argo-rollouts
kubectl -n argo-rollouts rollout status deployment/argo-rollouts --timeout=180s

# The namespace first (with its Pod Security labels), then the secrets the pods need.
kubectl apply -f deploy/overlays/dev/namespace.yaml
scripts/k8s/create-secrets.sh "$namespace"
if [[ -n "${GHCR_USERNAME:-}" && -n "${GHCR_TOKEN:-}" ]]; then
  scripts/k8s/create-ghcr-secret.sh "$namespace"
else
  echo "kind-up: GHCR_USERNAME/GHCR_TOKEN not set; no pull secret (fine for public images or LOAD_IMAGES=1)" >&2
fi

if [[ "${LOAD_IMAGES:-0}" == 1 ]]; then
  for s in "${services[@]}"; do
    kind load docker-image --name "$cluster" "ghcr.io/mdp-example/${s}:dev"
  done
fi

if [[ "$mode" == argocd ]]; then
  echo "kind-up: Argo CD $argocd_version"
  kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply --server-side --force-conflicts -n argocd \
    -f "https://raw.githubusercontent.com/argoproj/argo-cd/${argocd_version}/manifests/install.yaml"
  kubectl wait --namespace argocd --for=condition=Available deployment --all --timeout=300s
  kubectl apply -k deploy/argocd
  echo "kind-up: Argo CD syncs mdp-dev from the repository; watch it with: kubectl -n argocd get applications"
else
  # Jobs are immutable: remove finished hook Jobs before applying a new version (Argo CD does
  # this itself through hook-delete-policy BeforeHookCreation).
  kubectl delete job --namespace "$namespace" --ignore-not-found \
    user-service-migrate order-service-migrate notification-service-migrate \
    mongodb-init rabbitmq-definitions postgresql-seed
  kubectl apply -k deploy/overlays/dev
  for sts in postgresql mongodb redis rabbitmq; do
    kubectl rollout status --namespace "$namespace" "statefulset/$sts" --timeout=300s
  done
  for s in "${services[@]}"; do
    kubectl argo rollouts status --namespace "$namespace" "$s" --timeout 300s
  done
fi
echo "kind-up: done. kubectl -n $namespace port-forward service/mdp-istio 8443:443, then API: https://mdp.localtest.me:8443/api/, docs: https://mdp.localtest.me:8443/docs (self-signed certificate)"
