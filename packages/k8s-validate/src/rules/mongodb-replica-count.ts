import { asKind, find, generatedConfigMap, type Rule, violation } from '../policy.js';

export const mongodbReplicaCount: Rule = {
  name: 'mongodb-replica-count',
  description:
    'The replica-set size the init Job configures (mongodb-config MONGODB_REPLICAS) equals the StatefulSet replicas.',
  check(ctx) {
    const item = find(ctx, 'StatefulSet', 'mongodb');
    const sts = item && asKind(item.resource, 'StatefulSet');
    if (!item || !sts) return [];
    const raw = generatedConfigMap(ctx, 'mongodb-config')?.data?.MONGODB_REPLICAS;
    const replicas = sts.spec?.replicas ?? 1;
    return Number(raw) === replicas
      ? []
      : [violation(this.name, item, `replicas ${replicas} but mongodb-config says MONGODB_REPLICAS=${raw}`)];
  },
};
