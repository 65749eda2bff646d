/** The identity checks routes need: @mdp/platform/auth's, taken as a dependency of buildApp. */
export { type AuthHook, type AuthUser as RequestUser, type RouteAuth, userOf } from '@mdp/platform/auth';
