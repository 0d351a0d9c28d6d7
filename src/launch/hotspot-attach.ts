/**
 * A diagnostic command (`GC.heap_info`, `Compiler.perfmap`, `VM.native_memory summary`…) asked of a running HotSpot
 * JVM over its attach socket, as `jcmd <pid> <command>` would ask it, without starting jcmd.
 *
 * Why not jcmd: jcmd is a JVM of its own, about 0.25 s of CPU per call on the target's cores. The run asks a JVM
 * for its perf map again and again (launch/perfmaps.ts), and with --nmt or without hsperfdata for figures every
 * interval (launch/jvm-stats.ts); on the bench's 12 s JVM run those jcmds were a fifth of the CLI's whole CPU.
 * Over the socket, a call is a connect, a write and a read.
 *
 * The protocol (HotSpot's LinuxAttachListener, unchanged since JDK 6; version 1):
 *   - the listener's socket is <the JVM's /tmp>/.java_pid<pid in the JVM's namespace>, made by the JVM's user;
 *   - no socket yet: create .attach_pid<nspid> in the JVM's working directory (else its /tmp) and send SIGQUIT;
 *     the JVM sees the file and starts its listener. SIGQUIT kills a JVM that does not handle it yet (still
 *     starting, or -Xrs): it is sent only when /proc/<pid>/status says the JVM catches it;
 *   - a request: "1\0jcmd\0<command line>\0\0\0"; the reply: a status line ("0" done) and the command's output,
 *     until the JVM closes the connection.
 * The JVM checks that the caller is its own user (or root); this side checks that the socket is the JVM user's,
 * so that another local user cannot answer in its place. A container's JVM is reached through /proc/<pid>/root.
 * A JVM started with -XX:+DisableAttachMechanism is not asked at all: its SIGQUIT would only print a thread dump.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { createConnection } from 'node:net';

/** What one or more commands answered: `ok` when every one was done; `why` is the first line of a failure. */
export interface AttachReply {
  ok: boolean;
  output: string;
  why: string;
}

const PROTOCOL_VERSION = '1';
/** How long the JVM may take to start its listener after the SIGQUIT (a loaded JVM reaches a safepoint late). */
const LISTENER_START_MS = 5_000;
/** A reply larger than this is not a diagnostic command's: the rest is dropped. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** True when /proc/<pid>/status says the process catches SIGQUIT: jcmd's and our attach would kill it otherwise. */
export function catchesSigquit(status: string): boolean {
  const mask = /^SigCgt:\s*([0-9a-f]+)/im.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & 4n) !== 0n;
}

/** `-XX:+DisableAttachMechanism` on the command line or in the options the JVM read from its environment. */
export function disablesAttach(cmdline: string[], environ: string[]): boolean {
  const optionVariables = /^(JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS)=/;
  const words = [...cmdline, ...environ.filter((e) => optionVariables.test(e)).flatMap((e) => e.replace(optionVariables, '').split(/\s+/))];
  let disabled = false;
  for (const word of words) {
    if (word === '-XX:+DisableAttachMechanism') disabled = true;
    if (word === '-XX:-DisableAttachMechanism') disabled = false;
  }
  return disabled;
}

/** The pid the JVM knows itself by: the last of NSpid (inside a container it is not ours). */
export function namespacePid(status: string, pid: number): number {
  const ids = /^NSpid:\s*([\d\s]+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  const last = Number(ids?.at(-1));
  return Number.isInteger(last) && last > 0 ? last : pid;
}

/** The request bytes: the protocol version, "jcmd", the command line, and two empty arguments. */
export function attachRequest(commandLine: string): Buffer {
  if (commandLine.includes('\0')) throw new Error('a command line cannot hold a NUL byte');
  return Buffer.from([PROTOCOL_VERSION, 'jcmd', commandLine, '', ''].map((part) => `${part}\0`).join(''), 'utf8');
}

/** Splits a reply into its status (0: done) and the output after the status line. */
export function parseAttachReply(reply: string): { status: number | undefined; output: string } {
  const newline = reply.indexOf('\n');
  const head = (newline < 0 ? reply : reply.slice(0, newline)).trim();
  const status = /^-?\d+$/.test(head) ? Number(head) : undefined;
  return { status, output: newline < 0 ? '' : reply.slice(newline + 1) };
}

/** The first line of `text` with something on it, trimmed and at most 200 characters; '' when there is none. */
export function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim()) ?? '').trim().slice(0, 200);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface JvmPlaces {
  socket: string;
  triggers: string[];
  uid: number | undefined;
}

/** Where the listener of the JVM `pid` (its /proc/<pid>/status given) has its socket, seen from here. */
export function attachSocketPath(pid: number, status: string): string {
  return `/proc/${pid}/root/tmp/.java_pid${namespacePid(status, pid)}`;
}

async function placesOf(pid: number): Promise<JvmPlaces> {
  const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
  const nspid = namespacePid(status, pid);
  const uid = Number(/^Uid:\s*\d+\s+(\d+)/m.exec(status)?.[1]);
  const root = `/proc/${pid}/root`;
  return {
    socket: attachSocketPath(pid, status),
    triggers: [`/proc/${pid}/cwd/.attach_pid${nspid}`, `${root}/tmp/.attach_pid${nspid}`],
    uid: Number.isInteger(uid) ? uid : undefined,
  };
}

/** The socket when it is there and the JVM user's; `undefined` while the listener is not running. */
async function ownedSocket(places: JvmPlaces): Promise<string | undefined> {
  const info = await fsp.stat(places.socket).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isSocket()) throw new Error(`${places.socket.replace(/^\/proc\/\d+\/root/, '')} is not a socket`);
  if (places.uid !== undefined && info.uid !== places.uid) {
    throw new Error(`${places.socket.replace(/^\/proc\/\d+\/root/, '')} belongs to uid ${info.uid}, not to the JVM's user: not asked`);
  }
  return places.socket;
}

/** Creates the first trigger file it can; returns its path, or undefined (then the JVM also looks in its /tmp). */
async function createTrigger(places: JvmPlaces): Promise<string | undefined> {
  for (const path of places.triggers) {
    try {
      const handle = await fsp.open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      await handle.close();
      return path;
    } catch {
      /* a read-only working directory, or one there already (another client's): try the next place */
    }
  }
  return undefined;
}

/**
 * Starts the JVM's listener (trigger file + SIGQUIT) and waits for its socket. Never for a JVM that refuses attach
 * (askJvm checks): its SIGQUIT handler would print a thread dump into the target's output each time.
 */
async function startListener(pid: number, places: JvmPlaces, deadlineMs: number): Promise<string> {
  if (!catchesSigquit(await fsp.readFile(`/proc/${pid}/status`, 'utf8'))) {
    throw new Error('it does not handle SIGQUIT yet (still starting, or -Xrs): asking would kill it');
  }
  const trigger = await createTrigger(places);
  try {
    process.kill(pid, 'SIGQUIT');
    for (let pauseMs = 10; Date.now() < deadlineMs; pauseMs = Math.min(pauseMs * 2, 200)) {
      await sleep(pauseMs);
      const socket = await ownedSocket(places);
      if (socket) return socket;
    }
  } finally {
    if (trigger) await fsp.rm(trigger, { force: true });
  }
  throw new Error('its attach listener did not start (-XX:+DisableAttachMechanism, or another user\'s JVM)');
}

/** One request on its own connection (the listener serves one per connection); resolves to the raw reply. */
function exchange(socket: string, request: Buffer, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const connection = createConnection({ path: socket });
    const timer = setTimeout(() => connection.destroy(new Error('no reply in time')), Math.max(1, deadlineMs - Date.now()));
    connection.on('connect', () => connection.write(request));
    connection.on('data', (chunk: Buffer) => {
      if (size < MAX_REPLY_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    connection.on('error', (error) => { clearTimeout(timer); reject(error); });
    connection.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * Asks the JVM `pid` each command in turn, as jcmd would; never throws. The whole call is bounded by `timeoutMs`.
 */
export async function askJvm(pid: number, commands: readonly string[], timeoutMs = 10_000): Promise<AttachReply> {
  const deadlineMs = Date.now() + timeoutMs;
  const outputs: string[] = [];
  try {
    const places = await placesOf(pid);
    const words = async (file: string) => (await fsp.readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '')).split('\0');
    if (disablesAttach(await words('cmdline'), await words('environ'))) {
      return { ok: false, output: '', why: 'it was started with -XX:+DisableAttachMechanism and accepts no attach' };
    }
    const socket = (await ownedSocket(places)) ?? await startListener(pid, places, Math.min(deadlineMs, Date.now() + LISTENER_START_MS));
    for (const command of commands) {
      const { status, output } = parseAttachReply(await exchange(socket, attachRequest(command), deadlineMs));
      outputs.push(output);
      if (status !== 0) {
        const why = firstLine(output) || (status === undefined ? 'an empty reply' : `status ${status}`);
        return { ok: false, output: outputs.join(''), why };
      }
    }
    return { ok: true, output: outputs.join(''), why: '' };
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the process ended' : firstLine((error as Error).message);
    return { ok: false, output: outputs.join(''), why };
  }
}
