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
