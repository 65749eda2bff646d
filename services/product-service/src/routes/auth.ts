import type { FastifyReply, FastifyRequest } from 'fastify';

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** The identity checks routes need (from @mdp/platform/auth in production). */
export interface RouteAuth {
  /** Verifies `Authorization: Bearer <JWT>`; sets request.user; 401 otherwise. */
  authenticate: AuthHook;
  /** 403 unless request.user has this role (runs after authenticate). */
  requireRole(role: string): AuthHook;
}

export interface RequestUser {
  id: string;
  role: string;
}

export function userOf(request: FastifyRequest): RequestUser {
  const user = (request as FastifyRequest & { user?: RequestUser }).user;
  if (!user) throw new Error('route needs authenticate before it');
  return user;
}
