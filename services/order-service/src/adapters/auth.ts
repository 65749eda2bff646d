import { authenticate, type Role, requireRole } from '@mdp/platform/auth';
import type { RouteAuth } from '../routes/auth.js';

/** Access-token checks from @mdp/platform/auth: EdDSA JWTs signed by user-service. */
export function jwtAuth(publicKeyPem: string): RouteAuth {
  return {
    authenticate: authenticate(publicKeyPem),
    requireRole: (role) => requireRole(role as Role),
  };
}
