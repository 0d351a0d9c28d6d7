/**
 * What pushing keeps in the run directory, under push/ (leakhunt's own: --force clears it with the rest):
 *   sent.jsonl     one line per profile a backend accepted: {to, pid, sequence, atMs}. What makes a second push of
 *                  the same run harmless: a profile already sent to the same destination is not sent again. A line
 *                  is appended as soon as the server said yes; a crash between the two sends that one profile twice.
 *   settings.json  the labels and backend the run pushed with, so that `leakhunt push` later labels the same series
 *                  (never a header: those are secrets and are given again).
 *   lock           the pid of the leakhunt process pushing this run: two pushes at once would both send.
 * The profiles themselves are the run's own (snapshots/, processes/<pid>/snapshots/): nothing is copied.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './endpoint.js';
import type { RunLabels } from './labels.js';

export const PUSH_DIR = 'push';
const SENT_FILE = 'sent.jsonl';
const SETTINGS_FILE = 'settings.json';
const LOCK_FILE = 'lock';
export const SETTINGS_SCHEMA = 'leakhunt.push-settings/v1';

export interface ProfileKey {
  pid: number;
  sequence: number;
}

const keyOf = (key: ProfileKey) => `${key.pid}:${key.sequence}`;

function pushDir(runDir: string): string {
  const dir = join(runDir, PUSH_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The profiles of a run already sent to one destination (PushEndpoint.key). */
export class SentLedger {
  private readonly sent = new Set<string>();

  private constructor(private readonly path: string, private readonly destination: string) {}

  /** Reads what was sent to `destination`; a damaged line (a crash while appending) is ignored. */
  static open(runDir: string, destination: string): SentLedger {
    const ledger = new SentLedger(join(pushDir(runDir), SENT_FILE), destination);
    let text = '';
    try {
      text = readFileSync(ledger.path, 'utf8');
    } catch {
      return ledger;
    }
    for (const line of text.split('\n')) {
      try {
        const entry = JSON.parse(line) as { to?: unknown; pid?: unknown; sequence?: unknown };
        if (entry.to === destination && Number.isSafeInteger(entry.pid) && Number.isSafeInteger(entry.sequence)) {
          ledger.sent.add(keyOf(entry as ProfileKey));
        }
      } catch {
        // an empty or torn line
      }
    }
    return ledger;
  }

  has(key: ProfileKey): boolean {
    return this.sent.has(keyOf(key));
  }

  get size(): number {
    return this.sent.size;
  }

  record(key: ProfileKey): void {
    if (this.has(key)) return;
    this.sent.add(keyOf(key));
    appendFileSync(this.path, `${JSON.stringify({ to: this.destination, pid: key.pid, sequence: key.sequence, atMs: Date.now() })}\n`, { mode: 0o600 });
  }
}

export interface PushSettings {
  schema: typeof SETTINGS_SCHEMA;
  backend: Backend;
  /** The endpoint pushed to, without credentials. */
  endpoint: string;
  labels: RunLabels;
}

export function writePushSettings(runDir: string, settings: Omit<PushSettings, 'schema'>): void {
  const path = join(pushDir(runDir), SETTINGS_FILE);
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify({ schema: SETTINGS_SCHEMA, ...settings }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** The settings a run pushed with, or undefined (it did not push, or the file is damaged). */
export function readPushSettings(runDir: string): PushSettings | undefined {
  try {
    const settings = JSON.parse(readFileSync(join(runDir, PUSH_DIR, SETTINGS_FILE), 'utf8')) as PushSettings;
    const labels = settings?.labels;
    const valid = settings?.schema === SETTINGS_SCHEMA && typeof labels?.service === 'string' && typeof labels.host === 'string'
      && typeof labels.run === 'string' && Array.isArray(labels.extra)
      && labels.extra.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every((s) => typeof s === 'string'));
    return valid ? settings : undefined;
  } catch {
    return undefined;
  }
}

/** The pushing process is someone else's and alive. */
export class PushLockedError extends Error {
  constructor(readonly pid: number) {
    super(`leakhunt (pid ${pid}) is pushing this run`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes push/lock for this process (a stale one, of a process that is gone, is taken over); returns its release. */
export function acquirePushLock(runDir: string): () => void {
  const path = join(pushDir(runDir), LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) throw new PushLockedError(holder);
      unlinkSync(path);
    }
  }
  throw new PushLockedError(0);
}
