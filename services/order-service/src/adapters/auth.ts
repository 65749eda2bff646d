/** Access-token checks from @mdp/platform/auth: EdDSA JWTs signed by user-service. */
export { jwtRouteAuth as jwtAuth } from '@mdp/platform/auth';
