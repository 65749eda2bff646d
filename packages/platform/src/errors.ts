/** An error a route or the domain raises on purpose: becomes a JSON error with this status and code. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, code = 'BAD_REQUEST') => new AppError(400, code, message);
export const unauthorized = (message = 'authentication required') =>
  new AppError(401, 'UNAUTHORIZED', message);
export const forbidden = (message = 'not allowed') => new AppError(403, 'FORBIDDEN', message);
export const notFound = (message = 'not found') => new AppError(404, 'NOT_FOUND', message);
export const conflict = (message: string, code = 'CONFLICT') => new AppError(409, code, message);
export const unavailable = (message: string, code = 'UNAVAILABLE') => new AppError(503, code, message);

/** The contract's error body. */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string; details?: unknown };
}

/**
 * How a service answers one of its domain errors: status, code (the service's contract names
 * them), message, optional details and headers (e.g. `retry-after`).
 */
export interface MappedError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

/**
 * A service's error map, handed to the HTTP factory (`createHttpApp({ errors })`): answers the
 * domain errors it knows, `undefined` for anything else (which the factory handles: a 500, or a
 * 503 for a dependency outage).
 */
export type ErrorMap = (error: Error) => MappedError | undefined;
