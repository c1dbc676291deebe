/**
 * Persistence of the lab: the state as one JSON file written atomically (temp file + rename), and
 * the invocation log as JSON lines appended next to it (`<state file>.invocations.jsonl`), so that
 * logging a call does not rewrite the whole state. Both are loaded at start.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { InvocationRecord } from './api';
import { Lab, type InvocationSink } from './lab';
import { LIMITS, type LabState } from './model/state';

export class StateStore {
  readonly invocationsPath: string;
  private appended = 0;

  constructor(readonly path: string) {
    this.invocationsPath = `${path}.invocations.jsonl`;
  }

  /** The persisted state and invocation log, or null when there is no state file yet. */
  load(): { state: LabState; invocations: InvocationRecord[] } | null {
    if (!existsSync(this.path)) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw new Error(`state file ${this.path} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    const state = Lab.parseState(raw);
    return { state, invocations: this.readInvocations() };
  }

  save(state: LabState): void {
    writeAtomically(this.path, JSON.stringify(state));
  }

  readonly sink: InvocationSink = {
    append: (record) => {
      appendFileSync(this.invocationsPath, `${JSON.stringify(record)}\n`);
      this.appended += 1;
      if (this.appended > LIMITS.invocations) this.compact();
    },
    clear: () => {
      rmSync(this.invocationsPath, { force: true });
      this.appended = 0;
    },
  };

  private readInvocations(): InvocationRecord[] {
    if (!existsSync(this.invocationsPath)) return [];
    const records: InvocationRecord[] = [];
    for (const line of readFileSync(this.invocationsPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as InvocationRecord);
      } catch {
        // A line cut short by a kill mid-append: skip it.
      }
    }
    return records.slice(-LIMITS.invocations);
  }

  /** Keeps the file from growing without bound: rewrites it with the newest records. */
  private compact(): void {
    const records = this.readInvocations();
    writeAtomically(this.invocationsPath, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    this.appended = 0;
  }
}

export function writeAtomically(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content);
  renameSync(temp, path);
}
