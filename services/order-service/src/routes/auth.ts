import type { FastifyReply, FastifyRequest } from 'fastify';

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** The identity checks routes need (from @mdp/platform/auth in production). */
export interface RouteAuth {
  authenticate: AuthHook;
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
