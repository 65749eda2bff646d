import { createHash } from 'node:crypto';
import type {
  AccessTokenIssuer,
  LoginThrottle,
  PasswordHasher,
  RefreshTokenStore,
  User,
  UserRepository,
} from './ports.js';

/** Why a use case refused: the service's error map gives each reason its contract code. */
export type UserErrorReason =
  /** Input the rules refuse. */
  | 'invalid_input'
  | 'email_taken'
  /** Unknown email or wrong password: the same answer for both. */
  | 'invalid_credentials'
  /** A signed-in user's current password is wrong (password change). */
  | 'wrong_password'
  /** Unknown, used, revoked or expired refresh token. */
  | 'refresh_token_invalid'
  | 'user_not_found';

export class UserError extends Error {
  override name = 'UserError';
  constructor(
    readonly reason: UserErrorReason,
    message: string,
  ) {
    super(message);
  }
}

const refreshTokenInvalid = () => new UserError('refresh_token_invalid', 'refresh token is no longer valid');
const userNotFound = () => new UserError('user_not_found', 'user not found');

/** Too many failed sign-ins for this account or address: wait `retryAfterSeconds`. */
export class LoginThrottledError extends Error {
  override name = 'LoginThrottledError';
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed sign-in attempts; try again later');
  }
}

/** Password rules: a floor against guessing, a ceiling so a huge password cannot burn CPU. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const NAME_MAX_LENGTH = 100;
export const EMAIL_MAX_LENGTH = 254;

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is not checked here.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** Trimmed and lower-cased: the form stored and compared. */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

export function validEmail(email: string): boolean {
  return email.length >= 3 && email.length <= EMAIL_MAX_LENGTH && EMAIL.test(email);
}

function checkPassword(password: string) {
  // Length in code points (what a user counts), checked again in the route schema.
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH)
    throw new UserError('invalid_input', `password must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH)
    throw new UserError('invalid_input', `password must be at most ${PASSWORD_MAX_LENGTH} characters`);
}

function cleanName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > NAME_MAX_LENGTH)
    throw new UserError('invalid_input', `name must be 1 to ${NAME_MAX_LENGTH} characters`);
  return name;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface UserServiceDeps {
  users: UserRepository;
  passwords: PasswordHasher;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenStore;
  throttle: LoginThrottle;
  /** For security events (reuse detection); optional. */
  onSecurityEvent?: (event: string, details: Record<string, unknown>) => void;
}

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async register(input: { email: string; password: string; name: string }): Promise<User> {
    const email = normaliseEmail(input.email);
    if (!validEmail(email)) throw new UserError('invalid_input', 'email is not a valid address');
    checkPassword(input.password);
    const name = cleanName(input.name);
    const passwordHash = await this.deps.passwords.hash(input.password);
    const user = await this.deps.users.createWithEvent({ email, name, passwordHash });
    if (!user) throw new UserError('email_taken', 'email already registered');
    return user;
  }

  /**
   * Same answer (401, same message, same work) whether the email exists or not. Every attempt
   * is counted per account and per IP before the password is verified (a success gives it
   * back), so at most the limit of guesses is ever verified, however many arrive at once; a
   * blocked caller gets 429 without any password check.
   */
  async login(input: { email: string; password: string }, ip: string): Promise<TokenPair> {
    const email = normaliseEmail(input.email);
    // The account key is a hash: Redis never holds the address itself.
    const accountKey = createHash('sha256').update(email).digest('hex');
    const wait = await this.deps.throttle.consumeAttempt(accountKey, ip);
    if (wait > 0) throw new LoginThrottledError(wait);
    const length = [...input.password].length;
    const user =
      validEmail(email) && length <= PASSWORD_MAX_LENGTH
        ? await this.deps.users.findByEmail(email)
        : undefined;
    const ok = user
      ? await this.deps.passwords.verify(user.passwordHash, input.password)
      : await this.deps.passwords.dummyVerify(input.password).then(() => false);
    if (!user || !ok) throw new UserError('invalid_credentials', 'invalid email or password');
    await this.deps.throttle.succeeded(accountKey, ip);
    return this.issuePair(user, await this.deps.refreshTokens.issue(user.id));
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const result = await this.deps.refreshTokens.rotate(refreshToken);
    if (result.outcome === 'reused') {
      this.deps.onSecurityEvent?.('refresh_token_reuse', { userId: result.userId });
      throw refreshTokenInvalid();
    }
    if (result.outcome === 'invalid') throw refreshTokenInvalid();
    const user = await this.deps.users.findById(result.userId);
    if (!user) {
      await this.deps.refreshTokens.revoke(result.refreshToken, result.userId);
      throw refreshTokenInvalid();
    }
    return this.issuePair(user, result.refreshToken);
  }

  async logout(refreshToken: string, userId: string): Promise<void> {
    await this.deps.refreshTokens.revoke(refreshToken, userId);
  }

  async me(userId: string): Promise<User> {
    const user = await this.deps.users.findById(userId);
    if (!user) throw userNotFound();
    return user;
  }

  /**
   * Changes the signed-in user's password: the current one is required (throttled like a
   * sign-in, so a stolen access token cannot be used to guess it), and every refresh-token family
   * of the user is revoked, so every other session ends at its next refresh.
   */
  async changePassword(
    userId: string,
    input: { currentPassword: string; newPassword: string },
    ip: string,
  ): Promise<void> {
    checkPassword(input.newPassword);
    const me = await this.deps.users.findById(userId);
    if (!me) throw userNotFound();
    const accountKey = createHash('sha256').update(me.email).digest('hex');
    const wait = await this.deps.throttle.consumeAttempt(accountKey, ip);
    if (wait > 0) throw new LoginThrottledError(wait);
    const user = await this.deps.users.findByEmail(me.email);
    if (!user) throw userNotFound();
    if (!(await this.deps.passwords.verify(user.passwordHash, input.currentPassword)))
      throw new UserError('wrong_password', 'the current password is wrong');
    await this.deps.throttle.succeeded(accountKey, ip);
    const updated = await this.deps.users.updatePasswordHash(
      userId,
      await this.deps.passwords.hash(input.newPassword),
    );
    if (!updated) throw userNotFound();
    await this.deps.refreshTokens.revokeAll(userId);
    this.deps.onSecurityEvent?.('password_changed', { userId });
  }

  async rename(userId: string, rawName: string): Promise<User> {
    const user = await this.deps.users.updateName(userId, cleanName(rawName));
    if (!user) throw userNotFound();
    return user;
  }

  private async issuePair(user: User, refreshToken: string): Promise<TokenPair> {
    const access = await this.deps.accessTokens.issue({ id: user.id, role: user.role });
    return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
  }
}
