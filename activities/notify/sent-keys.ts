/**
 * Each channel's record of the idempotency keys it has sent, so that Temporal's retries of the
 * activity send an event once per channel: a JSON file per channel in the state directory (only
 * hashes of the keys), written atomically, the oldest keys forgotten beyond a bound.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '@temporalio/activity';
import { z } from 'zod';
import { ChannelError } from './channel';
import { sha256 } from './keys';

/** A failure of the record, said as one (its path is no secret) rather than as the channel's. */
export async function recordStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ChannelError(
      `${what} its record of sent notifications (${e.code ?? e.message}${e.path ? `: ${e.path}` : ''})`,
    );
  }
}

const SentFile = z.object({
  version: z.literal(1),
  channel: z.string(),
  /** sha256 of each key, oldest first. */
  sent: z.array(z.object({ key: z.string(), at: z.string() })),
});
type SentFile = z.infer<typeof SentFile>;

export class SentRecord {
  private readonly file: string;
  constructor(
    private readonly dir: string,
    private readonly channel: string,
    private readonly limit: number,
  ) {
    const slug = channel.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
    this.file = join(dir, `sent-${slug}-${sha256(channel).slice(0, 8)}.json`);
  }

  private async read(): Promise<SentFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, channel: this.channel, sent: [] };
      throw err;
    }
    try {
      return SentFile.parse(JSON.parse(text));
    } catch {
      // A damaged record must not stop notifications: start again (at worst a key is sent twice,
      // with the same idempotency key for the receiver to drop).
      log.warn('notification record unreadable, starting a new one', { channel: this.channel, file: this.file });
      return { version: 1, channel: this.channel, sent: [] };
    }
  }

  async has(keyHash: string): Promise<boolean> {
    return (await this.read()).sent.some((s) => s.key === keyHash);
  }

  async add(keyHash: string, at: Date): Promise<void> {
    const record = await this.read();
    record.sent.push({ key: keyHash, at: at.toISOString() });
    record.sent = record.sent.slice(-this.limit);
    await mkdir(this.dir, { recursive: true });
    // Atomic: a crash leaves the old record or the new one, never half of one.
    const temporary = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, this.file);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
  }
}
