/**
 * push/: what pushing a run's profiles to a profiling backend (src/push/) keeps in the run directory:
 *   push/sent.jsonl     one line per profile a backend accepted: {to, pid, sequence, atMs}. What makes a second push of
 *                       the same run harmless: a profile already sent to the same destination is not sent again. A
 *                       line is appended as soon as the server said yes; a crash between the two sends that one
 *                       profile twice.
 *   push/settings.json  the labels and backend the run pushed with, so that `leakhunt push` later labels the same
 *                       series (never a header: those are secrets and are given again).
 *   push/lock           the pid of the leakhunt process pushing this run: two pushes at once would both send.
 * The profiles themselves are the run's own (snapshots/, processes/<pid>/snapshots/): nothing is copied.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './atomic.js';
import { runPath } from './layout.js';
import type { ProfileKey } from './profiles.js';

const PUSH_FILES = { sent: 'sent.jsonl', settings: 'settings.json', lock: 'lock' } as const;
export const PUSH_SETTINGS_SCHEMA = 'leakhunt.push-settings/v1';

/** push/`file` (push/ is created when missing: pushing writes there first). */
function pushFile(runDir: string, file: keyof typeof PUSH_FILES): string {
  const dir = runPath(runDir, 'push');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, PUSH_FILES[file]);
}

const keyOf = (key: ProfileKey) => `${key.pid}:${key.sequence}`;

/** The profiles of a run already sent to one destination (the push endpoint's key: backend, URL, tenant). */
export class SentLedger {
  private readonly sent = new Set<string>();

  private constructor(private readonly path: string, private readonly destination: string) {}

  /** Reads what was sent to `destination`; a damaged line (a crash while appending) is ignored. */
  static open(runDir: string, destination: string): SentLedger {
    const ledger = new SentLedger(pushFile(runDir, 'sent'), destination);
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

/** The labels of a run's pushed profiles (src/push/labels.ts RunLabels: per profile, `pid` is added). */
export interface PushedLabels {
  service: string;
  host: string;
  run: string;
  /** The user's --label k=v, in the order given. */
  extra: [string, string][];
}

export interface PushSettings {
  schema: typeof PUSH_SETTINGS_SCHEMA;
  /** pyroscope or parca, as the push stage names them (checked there when read back). */
  backend: string;
  /** The endpoint pushed to, without credentials. */
  endpoint: string;
  labels: PushedLabels;
}

export function writePushSettings(runDir: string, settings: Omit<PushSettings, 'schema'>): void {
  writeJsonAtomic(pushFile(runDir, 'settings'), { schema: PUSH_SETTINGS_SCHEMA, ...settings });
}

/** The settings a run pushed with, or undefined (it did not push, or the file is damaged). */
export function readPushSettings(runDir: string): PushSettings | undefined {
  try {
    const settings = JSON.parse(readFileSync(join(runPath(runDir, 'push'), PUSH_FILES.settings), 'utf8')) as PushSettings;
    const labels = settings?.labels;
    const valid = settings?.schema === PUSH_SETTINGS_SCHEMA && typeof labels?.service === 'string' && typeof labels.host === 'string'
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
  const path = pushFile(runDir, 'lock');
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
