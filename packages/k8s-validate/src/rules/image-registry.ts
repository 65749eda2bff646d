import {
  CONTRACT_REGISTRY,
  containersOf,
  parseImage,
  type Rule,
  THIRD_PARTY_IMAGES,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

const TAG_SCHEME = /^(\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|sha-[0-9a-f]{7}|dev|staging|stable)$/;

export const imageRegistry: Rule = {
  name: 'image-registry',
  description:
    'Platform images are ghcr.io/<owner>/<a directory of services/>:<semver | sha-<7 hex> | dev | staging | stable> (exactly what scripts/build-images.sh produces); any other image is one of the listed third-party images (datastores, job tooling, Flagsmith).',
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      for (const c of containersOf(template.spec)) {
        const image = c.spec.image ?? '';
        const { repository, tag } = parseImage(image);
        const v = (m: string) =>
          out.push(violation(this.name, item, `container ${c.name}: image ${image} ${m}`));
        if (repository.startsWith(`${CONTRACT_REGISTRY}/`)) {
          const parts = repository.split('/');
          if (parts.length !== 3 || !parts[1]) v('must be ghcr.io/<owner>/<service>');
          else if (!ctx.serviceDirs.includes(parts[2] ?? ''))
            v(`names no service directory (${ctx.serviceDirs.join(', ')})`);
          if (!tag || !TAG_SCHEME.test(tag))
            v('has a tag outside the scheme semver | sha-<7 hex> | dev | staging | stable');
        } else if (!THIRD_PARTY_IMAGES.includes(repository)) {
          v(`is neither under ${CONTRACT_REGISTRY}/<owner>/ nor a listed third-party image`);
        }
      }
    }
    return out;
  },
};
