/**
 * Webhook URLs (they carry tokens) and the SMTP password are secrets: they are held in `Secret`,
 * so that no body, subject, log line or error can print one by accident.
 */
import { inspect } from 'node:util';

/** A secret value that never prints: string conversion, JSON and util.inspect all give "[redacted]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}
