import { randomUUID } from 'node:crypto';
import { generateSigningKeys, type Role, signAccessToken } from '@mdp/platform/auth';

/** A per-suite Ed25519 key pair and a signer for access tokens exactly like user-service's. */
export async function tokenKit() {
  const { privateKey, publicKey } = await generateSigningKeys();
  const sign = async (sub: string = randomUUID(), role: Role = 'customer') =>
    (await signAccessToken({ id: sub, role }, privateKey)).token;
  return { publicPem: publicKey, sign };
}
