/**
 * Reads an endpoint's credentials from the worker's environment or a secret file. Error messages
 * name the variable or the file, never any part of its content.
 */
import { readFile } from 'node:fs/promises';
import type { CredentialSource } from './config';

export interface Credential {
  user: string;
  password: string;
}

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

export async function loadCredential(
  source: CredentialSource | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credential | null> {
  if (source === undefined) return null;
  if (source.source === 'env') {
    const user = env[source.userVar];
    const password = env[source.passwordVar];
    if (!user) throw new CredentialError(`credential variable ${source.userVar} is not set`);
    if (password === undefined) throw new CredentialError(`credential variable ${source.passwordVar} is not set`);
    return { user, password };
  }
  let text: string;
  try {
    text = await readFile(source.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new CredentialError(`cannot read the credentials file ${source.path} (${code})`);
  }
  return parseSecretFile(text, source.path);
}

/** JSON `{"user","password"}` or two lines: user, password. */
export function parseSecretFile(text: string, path: string): Credential {
  const body = text.replace(/^\uFEFF/, '');
  const invalid = new CredentialError(
    `the credentials file ${path} must hold JSON {"user": "...", "password": "..."} or two lines (user, password)`,
  );
  if (body.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      // JSON.parse messages quote the text: never pass them on.
      throw invalid;
    }
    if (typeof parsed !== 'object' || parsed === null) throw invalid;
    const { user, password } = parsed as Record<string, unknown>;
    if (typeof user !== 'string' || user === '' || typeof password !== 'string') throw invalid;
    return { user, password };
  }
  // One final line break is allowed; anything else is part of the two lines.
  const lines = body.replace(/\r?\n$/, '').split(/\r?\n/);
  const [user, password] = lines;
  if (lines.length !== 2 || !user || password === undefined) throw invalid;
  return { user, password };
}
