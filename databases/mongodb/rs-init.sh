#!/bin/bash
# Run by the mongodb-init Job (Argo CD Sync hook, wave -2): initiates the replica set rs0 on
# first use, adds members when the StatefulSet grew, creates or updates the product_service
# user (readWrite on catalog only), then applies init.js to the catalog database.
set -euo pipefail

ns="${POD_NAMESPACE:?}"
host0="mongodb-0.mongodb-headless.${ns}.svc.cluster.local:27017"
admin_uri="mongodb://${MONGO_ROOT_USERNAME}:${MONGO_ROOT_PASSWORD}@${host0}/admin?directConnection=true"

for attempt in $(seq 1 60); do
  if mongosh --quiet "$admin_uri" --eval 'db.adminCommand({ ping: 1 }).ok' >/dev/null 2>&1; then break; fi
  echo "waiting for ${host0} (attempt ${attempt})"
  sleep 5
done

mongosh --quiet "$admin_uri" /mdp/scripts/rs-init.js

catalog_uri="mongodb://${MONGO_ROOT_USERNAME}:${MONGO_ROOT_PASSWORD}@mongodb-headless.${ns}.svc.cluster.local:27017/catalog?authSource=admin&replicaSet=rs0"
mongosh --quiet "$catalog_uri" /mdp/scripts/init.js
echo "mongodb: replica set and catalog ready"
