/** What the domain needs from the outside world; adapters implement these. */
import type { Role } from '@mdp/platform/auth';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

export interface UserRepository {
  /**
   * Inserts the user and, in the same transaction, records `user.registered` in the outbox.
   * Resolves to undefined when the (normalised) email is already taken.
   */
  createWithEvent(user: { email: string; name: string; passwordHash: string }): Promise<User | undefined>;
  findByEmail(email: string): Promise<UserWithPassword | undefined>;
  findById(id: string): Promise<User | undefined>;
  updateName(id: string, name: string): Promise<User | undefined>;
  /** Replaces the password hash; false when the user does not exist. */
  updatePasswordHash(id: string, passwordHash: string): Promise<boolean>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Runs a verification of the same cost against nothing: equal timing for unknown emails. */
  dummyVerify(password: string): Promise<void>;
}

export interface AccessTokenIssuer {
  issue(user: { id: string; role: Role }): Promise<{ token: string; expiresIn: number }>;
}

export type RotateResult =
  | { outcome: 'rotated'; userId: string; refreshToken: string }
  | { outcome: 'invalid' }
  | { outcome: 'reused'; userId: string };

export interface RefreshTokenStore {
  /** A new token in a new family (at login). */
  issue(userId: string): Promise<string>;
  /** Marks `token` used and returns a successor in its family; a second use revokes the family. */
  rotate(token: string): Promise<RotateResult>;
  /** Revokes the token's family if it belongs to `userId`. */
  revoke(token: string, userId: string): Promise<void>;
  /** Revokes every family of `userId` (every session; after a password change). */
  revokeAll(userId: string): Promise<void>;
}

export interface LoginThrottle {
  /**
   * Counts one sign-in attempt for the account and for the address, atomically and before any
   * password check, so concurrent guesses cannot all pass a check made earlier. Resolves to 0
   * when the attempt may go on, or to the seconds to wait when it is refused (not counted then
   * against the account if the address was already over its limit).
   */
  consumeAttempt(accountKey: string, ip: string): Promise<number>;
  /** After a correct password: the account's counter starts again and the address gets its attempt back. */
  succeeded(accountKey: string, ip: string): Promise<void>;
}
