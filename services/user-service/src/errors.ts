import { type PublicErrorCode, publicError } from '@mdp/contracts/errors';
import type { ErrorMap } from '@mdp/platform/errors';
import { LoginThrottledError, UserError, type UserErrorReason } from './domain/users.js';

const CODES: Record<UserErrorReason, PublicErrorCode> = {
  invalid_input: 'VALIDATION_FAILED',
  email_taken: 'EMAIL_TAKEN',
  invalid_credentials: 'UNAUTHORIZED',
  wrong_password: 'FORBIDDEN',
  refresh_token_invalid: 'UNAUTHORIZED',
  user_not_found: 'NOT_FOUND',
};

/** user-service's domain errors as the contract's errors (handed to the HTTP factory). */
export const errorMap: ErrorMap = (err) => {
  if (err instanceof UserError) return publicError(CODES[err.reason], err.message);
  if (err instanceof LoginThrottledError)
    return {
      ...publicError('TOO_MANY_REQUESTS', err.message, { retryAfterSeconds: err.retryAfterSeconds }),
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    };
  return undefined;
};
