import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { generateSigningKeys, type Role, signAccessToken } from '@mdp/platform/auth';
import { ServiceTokenSigner } from '@mdp/platform/service-tokens';

/** A per-suite Ed25519 key pair and a signer for access tokens exactly like user-service's. */
export async function tokenKit() {
  const { privateKey, publicKey } = await generateSigningKeys();
  const sign = async (sub: string = randomUUID(), role: Role = 'customer') =>
    (await signAccessToken({ id: sub, role }, privateKey)).token;
  return { publicPem: publicKey, sign };
}

/** A per-process service-token pair: order-service's JWT_SERVICE_PRIVATE_KEY and product-service's public half. */
export const serviceKeys = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
})();

/** order-service's signer, as server.ts builds it. */
export const signer = new ServiceTokenSigner({
  service: 'order-service',
  audience: 'product-service',
  privateKey: serviceKeys.privateKey,
});
