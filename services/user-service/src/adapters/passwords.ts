import { hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../domain/ports.js';

/**
 * argon2id (@node-rs/argon2, prebuilt binary, no install script) with OWASP's minimum
 * parameters: 19 MiB memory, 2 iterations, 1 lane. Hashes carry their parameters, so they
 * can be raised later without breaking stored hashes.
 */
export const ARGON2_OPTIONS = {
  algorithm: 2, // Algorithm.Argon2id (a const enum, not importable under verbatimModuleSyntax)
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export class Argon2Passwords implements PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly options: { memoryCost: number; timeCost: number } = ARGON2_OPTIONS) {}

  hash(password: string): Promise<string> {
    return hash(password, { ...ARGON2_OPTIONS, ...this.options });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  async dummyVerify(password: string): Promise<void> {
    this.dummy ??= this.hash('not-a-real-password-only-for-timing');
    await this.verify(await this.dummy, password);
  }
}
