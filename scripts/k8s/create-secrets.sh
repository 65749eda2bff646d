#!/usr/bin/env bash
# Creates the Secrets the manifests reference but never contain (deploy/external-secrets.json):
# datastore credentials with fresh random passwords, and each service's connection URLs built
# from them. Existing Secrets are kept (the databases were initialised with those passwords);
# pass --force to replace them all.
#
#   scripts/k8s/create-secrets.sh mdp-dev              create what is missing in mdp-dev
#   scripts/k8s/create-secrets.sh mdp-dev --force      replace all (only for empty databases)
#   scripts/k8s/create-secrets.sh mdp-dev --dry-run    print the Secrets as YAML, touch nothing
#
# Values never appear on a command line: each Secret is built from files in a private
# temporary directory. Requires kubectl and openssl (and a cluster unless --dry-run).
set -euo pipefail

usage() { echo "usage: $0 NAMESPACE [--dry-run] [--force]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ns="$1"; shift
dry_run=false; force=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    --force) force=true ;;
    *) usage ;;
  esac
done

work="$(mktemp -d)"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT

# 48 hex characters: URL-safe, so it can go into connection strings unescaped.
random_hex() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

pg_admin="$(random_hex)"
pg_user="$(random_hex)"; pg_product="$(random_hex)"; pg_order="$(random_hex)"; pg_notification="$(random_hex)"
mongo_root="$(random_hex)"; mongo_product="$(random_hex)"
redis_pw="$(random_hex)"; redis_gw_pw="$(random_hex)"; redis_user_pw="$(random_hex)"
rabbit_user="mdp"; rabbit_pw="$(random_hex)"
flagsmith_pg="$(random_hex)"; flagsmith_django="$(random_hex)$(random_hex)"
# Each service's own RabbitMQ user (the definitions Job creates them; permissions per exchange
# and queue in databases/rabbitmq/definitions.json); mdp is the administrator, for that Job only.
amqp_user_pw="$(random_hex)"; amqp_product_pw="$(random_hex)"
amqp_order_pw="$(random_hex)"; amqp_notification_pw="$(random_hex)"

# product-service caches in its own disposable Redis (redis-cache, allkeys-lru) in every
# environment. Production (deploy/components/datastores-ha): PostgreSQL through the CloudNativePG
# read-write Service.
pg_host=postgresql; cache_host=redis-cache
if [[ "$ns" == *production ]]; then pg_host=postgresql-rw; fi
# dev, staging: the gateway and user-service as their own Redis ACL users (databases/redis/acl-users,
# each confined to its key prefix); production's Sentinel set has no ACL users yet.
gw_redis_url="redis://api-gateway:${redis_gw_pw}@redis:6379"
user_redis_url="redis://user-service:${redis_user_pw}@redis:6379"
if [[ "$ns" == *production ]]; then
  gw_redis_url="redis://:${redis_pw}@redis:6379"; user_redis_url="$gw_redis_url"
fi
cache_url="redis://:${redis_pw}@${cache_host}:6379"
amqp_url() { echo "amqp://$1:$2@rabbitmq:5672"; }
pg_url() { echo "postgres://$1:$2@${pg_host}:5432/$3"; }

# secret [--type TYPE] NAME KEY=VALUE...  (a value of @FILE takes the file's content)
secret() {
  local type=Opaque
  if [[ "$1" == --type ]]; then type="$2"; shift 2; fi
  local name="$1"; shift
  local dir="$work/$name"
  mkdir -p "$dir"
  local pair key value
  for pair in "$@"; do
    key="${pair%%=*}"; value="${pair#*=}"
    if [[ "$value" == @* ]]; then cp "${value#@}" "$dir/$key"; else printf '%s' "$value" >"$dir/$key"; fi
  done
  if [[ "$dry_run" == true ]]; then
    echo "---"
    kubectl create secret generic "$name" --type "$type" --namespace "$ns" --from-file="$dir" --dry-run=client -o yaml
    return
  fi
  if [[ "$force" != true ]] && kubectl get secret "$name" --namespace "$ns" >/dev/null 2>&1; then
    echo "secret $name exists in $ns: kept" >&2
    return
  fi
  kubectl create secret generic "$name" --type "$type" --namespace "$ns" --from-file="$dir" --dry-run=client -o yaml |
    kubectl apply -f - >/dev/null
  echo "secret $name written to $ns" >&2
}

head -c 756 /dev/urandom | base64 | tr -d '\n' >"$work/mongodb-keyfile"
# Access tokens: user-service signs with the Ed25519 private key, the gateway verifies with
# the public one (JWT_PRIVATE_KEY / JWT_PUBLIC_KEY, PEM).
openssl genpkey -algorithm ed25519 -out "$work/jwt-private.pem" 2>/dev/null
openssl pkey -in "$work/jwt-private.pem" -pubout -out "$work/jwt-public.pem"
# Service tokens for product-service's /internal: order-service alone signs with the private key.
openssl genpkey -algorithm ed25519 -out "$work/jwt-service-private.pem" 2>/dev/null
openssl pkey -in "$work/jwt-service-private.pem" -pubout -out "$work/jwt-service-public.pem"
printf 'default_user = %s\ndefault_pass = %s\n' "$rabbit_user" "$rabbit_pw" >"$work/rabbitmq.conf"

secret postgresql-credentials \
  "POSTGRES_PASSWORD=$pg_admin" \
  "USER_SERVICE_DB_PASSWORD=$pg_user" \
  "PRODUCT_SERVICE_DB_PASSWORD=$pg_product" \
  "ORDER_SERVICE_DB_PASSWORD=$pg_order" \
  "NOTIFICATION_SERVICE_DB_PASSWORD=$pg_notification"
# The same role passwords as CloudNativePG managed-role Secrets (production's Cluster).
secret --type kubernetes.io/basic-auth postgresql-user-service "username=user_service" "password=$pg_user"
secret --type kubernetes.io/basic-auth postgresql-product-service "username=product_service" "password=$pg_product"
secret --type kubernetes.io/basic-auth postgresql-order-service "username=order_service" "password=$pg_order"
secret --type kubernetes.io/basic-auth postgresql-notification-service \
  "username=notification_service" "password=$pg_notification"
secret mongodb-credentials \
  "MONGO_ROOT_USERNAME=root" \
  "MONGO_ROOT_PASSWORD=$mongo_root" \
  "PRODUCT_SERVICE_DB_PASSWORD=$mongo_product" \
  "keyfile=@$work/mongodb-keyfile"
secret redis-credentials "REDIS_PASSWORD=$redis_pw" \
  "API_GATEWAY_REDIS_PASSWORD=$redis_gw_pw" "USER_SERVICE_REDIS_PASSWORD=$redis_user_pw"
secret rabbitmq-credentials \
  "RABBITMQ_USER=$rabbit_user" \
  "RABBITMQ_PASSWORD=$rabbit_pw" \
  "20-credentials.conf=@$work/rabbitmq.conf" \
  "USER_SERVICE_AMQP_PASSWORD=$amqp_user_pw" \
  "PRODUCT_SERVICE_AMQP_PASSWORD=$amqp_product_pw" \
  "ORDER_SERVICE_AMQP_PASSWORD=$amqp_order_pw" \
  "NOTIFICATION_SERVICE_AMQP_PASSWORD=$amqp_notification_pw"

# Flagsmith (production's feature flags, deployment-strategies/feature-flags/flagsmith): its own
# PostgreSQL, and Django's signing key. Made in every namespace; only production runs Flagsmith.
secret flagsmith-credentials \
  "POSTGRES_PASSWORD=$flagsmith_pg" \
  "DATABASE_URL=postgres://flagsmith:${flagsmith_pg}@flagsmith-postgresql:5432/flagsmith" \
  "DJANGO_SECRET_KEY=$flagsmith_django"

# The first administrator of staging and production (deploy/components/admin-from-secret); dev
# uses the demo seed. SEED_ADMIN_EMAIL overrides the address.
secret user-service-admin \
  "SEED_ADMIN_EMAIL=${SEED_ADMIN_EMAIL:-admin@mdp.local}" \
  "SEED_ADMIN_PASSWORD=$(random_hex)"

secret api-gateway-secrets "REDIS_URL=$gw_redis_url" "JWT_PUBLIC_KEY=@$work/jwt-public.pem"
secret user-service-secrets \
  "DATABASE_URL=$(pg_url user_service "$pg_user" users)" \
  "REDIS_URL=$user_redis_url" \
  "AMQP_URL=$(amqp_url user-service "$amqp_user_pw")" \
  "JWT_PRIVATE_KEY=@$work/jwt-private.pem"
# The headless Service's SRV record lists every replica-set member (port named "mongodb").
secret product-service-secrets \
  "PRODUCT_DB_URL=mongodb+srv://product_service:${mongo_product}@mongodb-headless.${ns}.svc.cluster.local/catalog?tls=false&authSource=catalog&replicaSet=rs0" \
  "REDIS_URL=$cache_url" \
  "AMQP_URL=$(amqp_url product-service "$amqp_product_pw")" \
  "JWT_PUBLIC_KEY=@$work/jwt-public.pem" \
  "JWT_SERVICE_PUBLIC_KEY=@$work/jwt-service-public.pem"
secret order-service-secrets \
  "DATABASE_URL=$(pg_url order_service "$pg_order" orders)" \
  "AMQP_URL=$(amqp_url order-service "$amqp_order_pw")" \
  "JWT_PUBLIC_KEY=@$work/jwt-public.pem" \
  "JWT_SERVICE_PRIVATE_KEY=@$work/jwt-service-private.pem"
secret notification-service-secrets \
  "DATABASE_URL=$(pg_url notification_service "$pg_notification" notifications)" \
  "AMQP_URL=$(amqp_url notification-service "$amqp_notification_pw")" \
  "JWT_PUBLIC_KEY=@$work/jwt-public.pem"
