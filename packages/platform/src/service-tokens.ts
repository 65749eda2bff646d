/**
 * Service-to-service credentials (issue 15, finding 4): a caller proves which service it is with a
 * short-lived JWT signed by its own Ed25519 key (JWT_SERVICE_PRIVATE_KEY, held by that service
 * alone); the callee verifies it with the public key (JWT_SERVICE_PUBLIC_KEY), checks that the
 * token is meant for it (`aud`) and that the caller is one it accepts (`iss` = `sub` = the calling
 * service's name, in its allowed callers). Access tokens of users (at+jwt, audience `mdp`) are
 * refused by `typ` and audience, so a customer's token can never call an internal route.
 *
 *   caller:  const signer = new ServiceTokenSigner({ service: 'order-service', audience: 'product-service', privateKey })
 *            headers.authorization = `Bearer ${await signer.token()}`
 *   callee:  app.post('/internal/x', { onRequest: requireService({ audience, allowedCallers, publicKey }) }, ...)
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import {
  bearerToken,
  importPrivateKey,
  importPublicKey,
  type PrivateKeyInput,
  type PublicKeyInput,
  pemBlocks,
  TOKEN_ALGORITHM,
} from './auth.js';
import { AppError } from './errors.js';

export const SERVICE_TOKEN_TYPE = 'svc+jwt';
/** Lifetime of a service token; a signer reuses one for at most half of it. */
export const SERVICE_TOKEN_TTL_SECONDS = 60;
/** Verifiers refuse a token whose exp - iat is longer. */
export const MAX_SERVICE_TOKEN_TTL_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 5;

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling service, set by `requireService` from a verified service token. */
    caller?: string;
  }
}

export class ServiceTokenError extends AppError {
  constructor(
    statusCode: 401 | 403,
    readonly reason: 'missing' | 'invalid' | 'expired' | 'caller-not-allowed',
    message: string,
  ) {
    super(statusCode, statusCode === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message);
    this.name = 'ServiceTokenError';
  }
}

export async function signServiceToken(opts: {
  service: string;
  audience: string;
  privateKey: PrivateKeyInput;
  ttlSeconds?: number;
  now?: number;
}): Promise<{ token: string; exp: number }> {
  const ttl = opts.ttlSeconds ?? SERVICE_TOKEN_TTL_SECONDS;
  if (!(ttl > 0 && ttl <= MAX_SERVICE_TOKEN_TTL_SECONDS))
    throw new RangeError(`service token lifetime must be 1..${MAX_SERVICE_TOKEN_TTL_SECONDS} s, not ${ttl}`);
  const key = typeof opts.privateKey === 'string' ? await importPrivateKey(opts.privateKey) : opts.privateKey;
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const exp = iat + ttl;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: SERVICE_TOKEN_TYPE })
    .setIssuer(opts.service)
    .setSubject(opts.service)
    .setAudience(opts.audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(key);
  return { token, exp };
}

/** Signs service tokens for one audience and reuses each for half its lifetime. */
export class ServiceTokenSigner {
  private current?: Promise<{ token: string; renewAt: number }>;

  constructor(
    private readonly opts: {
      service: string;
      audience: string;
      privateKey: PrivateKeyInput;
      ttlSeconds?: number;
    },
  ) {}

  async token(): Promise<string> {
    const now = Date.now();
    const cur = this.current ? await this.current.catch(() => undefined) : undefined;
    if (cur && now < cur.renewAt) return cur.token;
    const ttl = this.opts.ttlSeconds ?? SERVICE_TOKEN_TTL_SECONDS;
    this.current = signServiceToken({ ...this.opts, now }).then(({ token }) => ({
      token,
      renewAt: now + (ttl * 1000) / 2,
    }));
    return (await this.current).token;
  }
}

/** Verifies a service token; resolves to the calling service's name. */
export async function verifyServiceToken(
  token: string,
  opts: { publicKey: PublicKeyInput; audience: string; allowedCallers: readonly string[] },
): Promise<string> {
  // A PEM string may hold several keys (the caller's key rotating): each is tried in turn.
  const blocks = typeof opts.publicKey === 'string' ? pemBlocks(opts.publicKey) : [];
  const keys =
    typeof opts.publicKey === 'string'
      ? await Promise.all((blocks.length ? blocks : [opts.publicKey]).map((pem) => importPublicKey(pem)))
      : [opts.publicKey];
  let payload: Record<string, unknown> = {};
  for (const [i, key] of keys.entries()) {
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [TOKEN_ALGORITHM],
        audience: opts.audience,
        typ: SERVICE_TOKEN_TYPE,
        requiredClaims: ['iss', 'sub', 'iat', 'exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
      break;
    } catch (err) {
      if (i < keys.length - 1 && err instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      if (err instanceof joseErrors.JWTExpired)
        throw new ServiceTokenError(401, 'expired', 'service token expired');
      throw new ServiceTokenError(401, 'invalid', 'invalid service token');
    }
  }
  if ((payload.exp as number) - (payload.iat as number) > MAX_SERVICE_TOKEN_TTL_SECONDS)
    throw new ServiceTokenError(401, 'invalid', 'service token lifetime over the limit');
  const caller = payload.sub;
  if (typeof caller !== 'string' || payload.iss !== caller)
    throw new ServiceTokenError(401, 'invalid', 'invalid service token');
  if (!opts.allowedCallers.includes(caller))
    throw new ServiceTokenError(403, 'caller-not-allowed', `${caller} may not call this service`);
  return caller;
}

/**
 * Fastify hook for internal routes: 401 without a valid service token for `audience`, 403 for a
 * valid one from a service not in `allowedCallers`; sets `request.caller`.
 */
export function requireService(opts: {
  publicKey: PublicKeyInput;
  audience: string;
  allowedCallers: readonly string[];
}) {
  // Surface a bad key at start-up rather than on the first call.
  const key =
    typeof opts.publicKey === 'string'
      ? Promise.all(pemBlocks(opts.publicKey).map((pem) => importPublicKey(pem)))
      : Promise.resolve([opts.publicKey]);
  key.catch(() => {});
  return async function requireServiceHook(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = bearerToken(request.headers.authorization);
    try {
      if (!token) throw new ServiceTokenError(401, 'missing', 'service credential required');
      await key;
      request.caller = await verifyServiceToken(token, opts);
    } catch (err) {
      if (err instanceof ServiceTokenError) {
        if (err.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="internal"');
        request.log.warn({ reason: err.reason }, 'internal call refused');
      }
      throw err;
    }
  };
}
