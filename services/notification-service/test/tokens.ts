import { exportSPKI, generateKeyPair, SignJWT } from 'jose';

/** A per-suite Ed25519 key pair and a signer for access tokens like user-service's. */
export async function tokenKit() {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const publicPem = await exportSPKI(publicKey);
  const sign = (sub: string, role = 'customer', expiresIn = '15m') =>
    new SignJWT({ role })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setSubject(sub)
      .setIssuer('mdp-user-service')
      .setAudience('mdp')
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(expiresIn)
      .sign(privateKey);
  return { publicPem, sign };
}
