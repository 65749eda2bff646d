/**
 * Access tokens (shared decision): JWTs signed by user-service with an Ed25519 key
 * (alg `EdDSA`, library `jose`), issuer `mdp-user-service`, audience `mdp`, 15 minutes,
 * claims sub, role, iat, exp, jti. Every other service only verifies, with the public key.
 *
 * Verification accepts exactly one algorithm (`EdDSA`), so `alg: none` and algorithm
 * confusion (an HS256 token "signed" with the public key as an HMAC secret, an RS256 token...)
 * are refused by jose before any signature check; the key itself must be an Ed25519 SPKI key.
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomUUID, type webcrypto } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  importSPKI,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { AppError, forbidden, unauthorized } from './errors.js';

type CryptoKey = webcrypto.CryptoKey;

export const TOKEN_ISSUER = 'mdp-user-service';
export const TOKEN_AUDIENCE = 'mdp';
export const TOKEN_ALGORITHM = 'EdDSA';
/** The only algorithms a token may declare. */
export const ALLOWED_ALGORITHMS: readonly string[] = [TOKEN_ALGORITHM];
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/**
 * The longest lifetime (exp - iat) an access token may have: user-service's setting cannot go
 * beyond it, and verifiers refuse a token that claims more (a misconfigured or stolen signer).
 */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 60 * 60;
/** The JOSE `typ` of access tokens (RFC 9068); verifiers refuse any other (e.g. an ID token). */
export const TOKEN_TYPE = 'at+jwt';
/** Clock skew tolerated between the signer and a verifier. */
const CLOCK_TOLERANCE_SECONDS = 5;

export const ROLES = ['customer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The identity a verified access token carries. */
export interface AuthUser {
  id: string;
  role: Role;
}

export interface AccessTokenClaims {
  sub: string;
  role: Role;
  iat: number;
  exp: number;
  jti: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` from a verified access token; nothing else sets it. */
    user?: AuthUser;
  }
}

/** A PEM string or an already imported key. */
export type PublicKeyInput = string | CryptoKey;
export type PrivateKeyInput = string | CryptoKey;

/** Why a token was refused (the HTTP answer says only 401; logs may use the reason). */
export class InvalidTokenError extends AppError {
  constructor(
    readonly reason: 'missing' | 'malformed' | 'expired' | 'invalid',
    message: string,
  ) {
    super(401, 'UNAUTHORIZED', message);
    this.name = 'InvalidTokenError';
  }
}

const publicKeys = new Map<string, Promise<CryptoKey>>();

/** Imports an SPKI PEM as an Ed25519 verification key (memoised per PEM); throws on any other key type. */
export function importPublicKey(pem: string): Promise<CryptoKey> {
  let key = publicKeys.get(pem);
  if (!key) {
    key = importSPKI(pem, TOKEN_ALGORITHM);
    publicKeys.set(pem, key);
    key.catch(() => publicKeys.delete(pem));
  }
  return key;
}

/** Imports a PKCS8 PEM as an Ed25519 signing key. */
export function importPrivateKey(pem: string): Promise<CryptoKey> {
  return importPKCS8(pem, TOKEN_ALGORITHM);
}

/** The PEM blocks of a key set: one or more SPKI PEMs one after the other (key rotation). */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
}

/** A key's id (`kid`): its RFC 7638 JWK thumbprint, the same on every side that holds the key. */
export function keyIdOf(key: KeyObject): Promise<string> {
  const { kty, crv, x } = key.export({ format: 'jwk' });
  return calculateJwkThumbprint({ kty, crv, x } as { kty: string; crv: string; x: string });
}

interface VerificationKey {
  kid?: string;
  key: CryptoKey;
}
const keySets = new Map<string, Promise<VerificationKey[]>>();

/**
 * The verification keys of `publicKey`: a PEM string holding one key or several (while a key is
 * rotated, JWT_PUBLIC_KEY holds the new and the old one), each with its kid; or one CryptoKey.
 */
function verificationKeys(publicKey: PublicKeyInput): Promise<VerificationKey[]> {
  if (typeof publicKey !== 'string') return Promise.resolve([{ key: publicKey }]);
  let set = keySets.get(publicKey);
  if (!set) {
    const blocks = pemBlocks(publicKey);
    set = Promise.all(
      (blocks.length ? blocks : [publicKey]).map(async (pem) => ({
        kid: await keyIdOf(createPublicKey(pem)),
        key: await importPublicKey(pem),
      })),
    );
    keySets.set(publicKey, set);
    set.catch(() => keySets.delete(publicKey));
  }
  return set;
}
const asPublicKey = (k: PublicKeyInput) => verificationKeys(k);

/** A fresh Ed25519 key pair as PEM strings (tests generate one per suite; `npm start` one per machine). */
export async function generateSigningKeys(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
  return { privateKey: await exportPKCS8(pair.privateKey), publicKey: await exportSPKI(pair.publicKey) };
}

/** Signs an access token for `user` (user-service only). */
export async function signAccessToken(
  user: AuthUser,
  privateKey: PrivateKeyInput,
  opts: { ttlSeconds?: number; now?: number } = {},
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const key = typeof privateKey === 'string' ? await importPrivateKey(privateKey) : privateKey;
  // The kid names the signing key, so verifiers holding several (rotation) pick the right one.
  const kid =
    typeof privateKey === 'string' ? await keyIdOf(createPublicKey(createPrivateKey(privateKey))) : undefined;
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const ttl = opts.ttlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  if (!(ttl > 0 && ttl <= MAX_ACCESS_TOKEN_TTL_SECONDS))
    throw new RangeError(`access token lifetime must be 1..${MAX_ACCESS_TOKEN_TTL_SECONDS} s, not ${ttl}`);
  const exp = iat + ttl;
  const jti = randomUUID();
  const token = await new SignJWT({ role: user.role })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE, ...(kid ? { kid } : {}) })
    .setSubject(user.id)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key);
  return { token, claims: { sub: user.id, role: user.role, iat, exp, jti } };
}

/**
 * Verifies signature (EdDSA only), `typ` (at+jwt), issuer, audience, expiry, the required claims
 * and a lifetime of at most MAX_ACCESS_TOKEN_TTL_SECONDS.
 * Resolves to the claims; rejects with InvalidTokenError (a 401 when thrown in a route).
 */
export async function verifyAccessToken(
  token: string,
  publicKey: PublicKeyInput,
): Promise<AccessTokenClaims> {
  const keys = await asPublicKey(publicKey);
  // One cache per key set: the set of a PEM string is one array (verificationKeys keeps it); a
  // CryptoKey given directly is its own.
  const verified = verifiedTokens(typeof publicKey === 'string' ? keys : publicKey);
  const known = verified.get(token);
  // A token this key set already accepted, still within its lifetime: the same claims again. The
  // signature, typ, issuer, audience and claim checks cannot change for the same bytes; expiry
  // is the only check that depends on the clock, and it is checked again here.
  if (known && Date.now() < (known.exp + CLOCK_TOLERANCE_SECONDS) * 1000) return known;
  const claims = await verifyUncached(token, keys);
  const ttl = (claims.exp + CLOCK_TOLERANCE_SECONDS) * 1000 - Date.now();
  if (ttl > 0) verified.set(token, Object.freeze(claims), { ttl });
  return claims;
}

/**
 * Tokens each key set verified, kept until their expiry. A service sees the same token on every
 * request of a session, and the Ed25519 check (WebCrypto) was the largest single cost of a
 * request at the gateway (docs/performance.md). Only successes are kept; bounded in entries.
 */
const verifiedByKeys = new WeakMap<object, LRUCache<string, AccessTokenClaims>>();
const VERIFIED_TOKENS_MAX = 10_000;
function verifiedTokens(keys: object): LRUCache<string, AccessTokenClaims> {
  let cache = verifiedByKeys.get(keys);
  if (!cache) {
    cache = new LRUCache<string, AccessTokenClaims>({ max: VERIFIED_TOKENS_MAX });
    verifiedByKeys.set(keys, cache);
  }
  return cache;
}

async function verifyUncached(token: string, keys: VerificationKey[]): Promise<AccessTokenClaims> {
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new InvalidTokenError('malformed', 'malformed access token');
  }
  // A kid picks its key; a token without one (signed before kids) is tried against each key.
  const candidates = kid === undefined ? keys : keys.filter((k) => k.kid === kid || k.kid === undefined);
  if (candidates.length === 0)
    throw new InvalidTokenError('invalid', 'access token signed by an unknown key');
  let payload: Record<string, unknown> = {};
  for (const [i, { key }] of candidates.entries()) {
    try {
      ({ payload } = await verifyWith(token, key));
      break;
    } catch (err) {
      if (i === candidates.length - 1 || !(err instanceof joseErrors.JWSSignatureVerificationFailed)) {
        if (err instanceof joseErrors.JWTExpired)
          throw new InvalidTokenError('expired', 'access token expired');
        if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid)
          throw new InvalidTokenError('malformed', 'malformed access token');
        throw new InvalidTokenError('invalid', 'invalid access token');
      }
    }
  }
  const { sub, role, iat, exp, jti } = payload;
  if ((exp as number) - (iat as number) > MAX_ACCESS_TOKEN_TTL_SECONDS)
    throw new InvalidTokenError('invalid', 'access token lifetime over the limit');
  if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || !ROLES.includes(role as Role))
    throw new InvalidTokenError('invalid', 'invalid access token');
  return { sub, role: role as Role, iat: iat as number, exp: exp as number, jti };
}

function verifyWith(token: string, key: CryptoKey) {
  return jwtVerify(token, key, {
    algorithms: [...ALLOWED_ALGORITHMS],
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    requiredClaims: ['sub', 'iat', 'exp', 'jti'],
    typ: TOKEN_TYPE,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  });
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)$/i.exec(header.trim());
  return m?.[1];
}

function challenge(reply: FastifyReply, err: InvalidTokenError) {
  reply.header(
    'www-authenticate',
    err.reason === 'missing' ? 'Bearer realm="mdp"' : 'Bearer realm="mdp", error="invalid_token"',
  );
}

/**
 * Fastify preHandler: verifies `Authorization: Bearer <jwt>` with `publicKey` and sets
 * `request.user = {id, role}`; answers 401 (contract JSON, `WWW-Authenticate`) otherwise.
 *   app.get('/orders', { preHandler: authenticate(publicKey), schema }, handler)
 */
export function authenticate(publicKey: PublicKeyInput) {
  const key = asPublicKey(publicKey);
  // Surface a bad key at start-up rather than on the first request.
  key.catch(() => {});
  return async function authenticateHook(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    const token = bearerToken(header);
    try {
      if (!token)
        throw header
          ? new InvalidTokenError('malformed', 'malformed Authorization header')
          : new InvalidTokenError('missing', 'authentication required');
      await key;
      const claims = await verifyAccessToken(token, publicKey);
      request.user = { id: claims.sub, role: claims.role };
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        challenge(reply, err);
        request.log.debug({ reason: err.reason }, 'access token refused');
      }
      throw err;
    }
  };
}

/** Fastify hook: `request.user` from a valid bearer token, else nothing (see RouteAuth.identify). */
export function identify(publicKey: PublicKeyInput) {
  const key = asPublicKey(publicKey);
  key.catch(() => {});
  return async function identifyHook(request: FastifyRequest): Promise<void> {
    const token = bearerToken(request.headers.authorization);
    if (!token) return;
    try {
      await key;
      const claims = await verifyAccessToken(token, publicKey);
      request.user = { id: claims.sub, role: claims.role };
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      request.log.debug({ reason: err.reason }, 'access token ignored on a public route');
    }
  };
}

/**
 * Fastify preHandler, after `authenticate`: 403 unless the caller has one of `roles`
 * (401 if no one is signed in).
 *   { preHandler: [authenticate(publicKey), requireRole('admin')] }
 */
export function requireRole(...roles: Role[]) {
  return async function requireRoleHook(request: FastifyRequest): Promise<void> {
    if (!request.user) throw unauthorized();
    if (!roles.includes(request.user.role)) throw forbidden(`requires role ${roles.join(' or ')}`);
  };
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What routes need from authentication; services take it as a dependency of `buildApp`. */
export interface RouteAuth {
  authenticate: AuthHook;
  /**
   * For public routes that personalise: sets `request.user` when a valid bearer token is given;
   * no token, or a bad one, is simply anonymous (no 401, no challenge header).
   */
  identify?: AuthHook;
  requireRole(role: Role): AuthHook;
}

/** RouteAuth over access tokens verified with `publicKey`. */
export function jwtRouteAuth(publicKey: PublicKeyInput): RouteAuth {
  return {
    authenticate: authenticate(publicKey),
    identify: identify(publicKey),
    requireRole: (role) => requireRole(role),
  };
}

/** The signed-in caller of a route that runs `authenticate` first. */
export function userOf(request: FastifyRequest): AuthUser {
  if (!request.user) throw new Error('route needs authenticate before it');
  return request.user;
}
