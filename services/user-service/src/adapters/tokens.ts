import { createPublicKey } from 'node:crypto';
import { ACCESS_TOKEN_TTL_SECONDS, importPrivateKey, type Role, signAccessToken } from '@mdp/platform/auth';
import type { AccessTokenIssuer } from '../domain/ports.js';

/** Signs access tokens with the service's Ed25519 private key (JWT_PRIVATE_KEY). */
export class JwtIssuer implements AccessTokenIssuer {
  private readonly key: ReturnType<typeof importPrivateKey>;

  constructor(
    privateKeyPem: string,
    private readonly ttlSeconds = ACCESS_TOKEN_TTL_SECONDS,
  ) {
    this.key = importPrivateKey(privateKeyPem);
    this.key.catch(() => {});
  }

  async issue(user: { id: string; role: Role }) {
    const { token } = await signAccessToken(user, await this.key, { ttlSeconds: this.ttlSeconds });
    return { token, expiresIn: this.ttlSeconds };
  }
}

/** The SPKI public key matching a PKCS8 private key: user-service verifies its own tokens with it. */
export function publicKeyOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}
