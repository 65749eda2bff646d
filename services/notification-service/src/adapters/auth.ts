// TEMPORARY until @mdp/platform/auth lands in main: same contract (EdDSA, issuer
// mdp-user-service, audience mdp; request.user = {id, role}). Replaced by the platform module.
import { forbidden, unauthorized } from '@mdp/platform/errors';
import type { FastifyRequest } from 'fastify';
import { importSPKI, jwtVerify } from 'jose';
import type { RouteAuth } from '../routes/auth.js';

export function jwtAuth(publicKeyPem: string): RouteAuth {
  const key = importSPKI(publicKeyPem, 'EdDSA');
  return {
    async authenticate(request: FastifyRequest) {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
      if (!token) throw unauthorized('missing bearer token');
      try {
        const { payload } = await jwtVerify(token, await key, {
          issuer: 'mdp-user-service',
          audience: 'mdp',
        });
        (request as FastifyRequest & { user?: unknown }).user = {
          id: String(payload.sub),
          role: String(payload.role),
        };
      } catch {
        throw unauthorized('invalid or expired token');
      }
    },
    requireRole(role: string) {
      return async (request: FastifyRequest) => {
        const user = (request as FastifyRequest & { user?: { role: string } }).user;
        if (user?.role !== role) throw forbidden(`role ${role} required`);
      };
    },
  };
}
