/** Plumbing of the `leakhunt attach` tests: JVMs started bare (no leakhunt), waited for until attachable. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { fixtureBuild, javaBin } from './helpers.js';

export type Jvm = ResultPromise<{ reject: false; all: true; cwd: string; env: NodeJS.ProcessEnv; extendEnv: false }>;

/** A JVM started bare, in `cwd` (where an hs_err file would land), with no leakhunt in its environment. */
export function startJvm(args: string[], cwd: string, java = javaBin): Jvm {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('LEAKHUNT_') || ['LD_PRELOAD', 'JAVA_TOOL_OPTIONS'].includes(name)) delete env[name];
  return execa(java, args, { reject: false, all: true, cwd, env, extendEnv: false });
}

/** The attach fixture (fixtures/java/attach): idles until `goFile` exists, then loads its JNI library and leaks. */
export function attachTargetArgs(goFile: string, extra: string[] = []): string[] {
  const dir = join(fixtureBuild, 'attach');
  return [`-Djava.library.path=${dir}`, '-cp', join(dir, 'classes'), 'lateload.AttachTarget', '--go', goFile, ...extra];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the JVM handles SIGQUIT (the attach handshake's signal) and `ready` (if given) is on its output. */
export async function waitAttachable(jvm: Jvm, ready?: () => boolean, timeoutMs = 60_000): Promise<void> {
  const pid = jvm.pid!;
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    let status = '';
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      throw new Error(`the JVM ${pid} ended before it could be attached`);
    }
    const mask = /^SigCgt:\s*([0-9a-f]+)/m.exec(status)?.[1];
    if (mask && (BigInt(`0x${mask}`) & 4n) !== 0n && (!ready || ready())) return;
    await sleep(100);
  }
  throw new Error(`the JVM ${pid} did not become attachable`);
}

/** What the JVM printed so far (stdout and stderr, interleaved). */
export function outputOf(jvm: Jvm): () => string {
  let text = '';
  jvm.all?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  return () => text;
}

/** Waits until `path` exists. */
export async function waitForFile(path: string, timeoutMs = 30_000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    if (existsSync(path)) return true;
    await sleep(100);
  }
  return existsSync(path);
}
