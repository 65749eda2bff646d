import { publicError } from '@mdp/contracts/errors';
import type { ErrorMap } from '@mdp/platform/errors';
import {
  EmailTakenError,
  InvalidCredentialsError,
  InvalidInputError,
  LoginThrottledError,
  RefreshTokenInvalidError,
  UserNotFoundError,
} from './domain/users.js';

/** user-service's domain errors as the contract's errors (handed to the HTTP factory). */
export const errorMap: ErrorMap = (err) => {
  if (err instanceof InvalidInputError) return publicError('VALIDATION_FAILED', err.message);
  if (err instanceof EmailTakenError) return publicError('EMAIL_TAKEN', err.message);
  if (err instanceof InvalidCredentialsError || err instanceof RefreshTokenInvalidError)
    return publicError('UNAUTHORIZED', err.message);
  if (err instanceof UserNotFoundError) return publicError('NOT_FOUND', err.message);
  if (err instanceof LoginThrottledError)
    return {
      ...publicError('TOO_MANY_REQUESTS', err.message, { retryAfterSeconds: err.retryAfterSeconds }),
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    };
  return undefined;
};
