/**
 * A JVM that refused leakhunt's agent: the shim was preloaded (LD_PRELOAD) and recorded it, but the JVM never
 * loaded the agent — typically a launcher that sanitises its environment (`exec env -u JAVA_TOOL_OPTIONS java …`)
 * or sets JAVA_TOOL_OPTIONS anew. Its stacks are native only; the run says so once.
 */
import { readPerfMapsIndex } from '../rundir/index.js';
import type { RawSnapshot } from '../snapshot/types.js';
import { findMapping, parseMaps } from './maps.js';

export interface JvmAgentFacts {
  pid: number;
  /** Whether the run asked for Java stacks (false with --no-java-stacks; undefined when the run did not say). */
  javaStacksWanted: boolean | undefined;
  /** How many perf maps of it were kept. */
  perfMaps: number;
  /** Why none was kept, if known. */
  perfMapNotes?: readonly string[];
}

/** Sampled allocations from Java code needed before an agent that loaded but never sampled is worth a warning:
 * a JVM that ends during start-up never had Java code to sample. */
const EVIDENCE_SAMPLES = 8;

function isJvm(snapshot: RawSnapshot): boolean {
  return /\/libjvm\.so$/m.test(snapshot.maps);
}

/** Any sign of the agent at work: Java frames taken or tried, or methods resolved. */
function agentActive(snapshots: readonly RawSnapshot[]): boolean {
  return snapshots.some((s) => s.counters.javaStacks > 0 || s.counters.javaStackFailures > 0 || s.counters.javaMethods > 0 || s.javaMethods.size > 0);
}

/** Sampled allocations whose native stack ends in anonymous executable memory: JIT code, the interpreter, stubs. */
export function samplesFromJavaCode(snapshot: RawSnapshot): number {
  const maps = parseMaps(snapshot.maps);
  let samples = 0;
  for (const site of snapshot.sites) {
    const pcs = snapshot.stacks.get(site.stackId)?.pcs ?? [];
    const outermost = pcs[pcs.length - 1];
    if (outermost === undefined) continue;
    const mapping = findMapping(maps, outermost - 1n);
    if (mapping && mapping.path === '' && mapping.perms.includes('x')) samples += site.allocSamples;
  }
  return samples;
}

/**
 * The one warning line for a JVM whose Java frames are missing, or undefined. The shim says in every snapshot
 * whether the agent loaded and whether it could sample (META flags); the counters back that up.
 */
export function jvmAgentWarning(snapshots: readonly RawSnapshot[], facts: JvmAgentFacts): string | undefined {
  const last = snapshots[snapshots.length - 1];
  if (!last || facts.javaStacksWanted === false || !snapshots.some(isJvm) || agentActive(snapshots)) return undefined;
  const why = facts.perfMapNotes?.find((n) => /jcmd|perf-\d+\.map/.test(n));
  const names = facts.perfMaps > 0 ? "JIT frames named from the JVM's perf map"
    : `and no perf map of it was kept${why ? ` (${why})` : ''}, so JIT frames stay unnamed`;
  if (!snapshots.some((s) => s.meta.agentLoaded)) {
    return `pid ${facts.pid} is a JVM that did not load the leakhunt agent (JAVA_TOOL_OPTIONS removed or overridden?): native stacks only, ${names}`;
  }
  if (snapshots.some((s) => s.meta.agentSampling) || samplesFromJavaCode(last) < EVIDENCE_SAMPLES) return undefined;
  return `pid ${facts.pid} is a JVM that loaded the leakhunt agent but could not take Java stacks (no AsyncGetCallTrace in this JVM?): native stacks only, ${names}`;
}

/** jvmAgentWarning for a process of a run directory, with what perfmaps/<pid>/ (`perfMapsDir`) says about it. */
export function jvmAgentWarningFor(snapshots: readonly RawSnapshot[], perfMapsDir: string, pid: number, javaStacksWanted: boolean | undefined): string | undefined {
  const index = readPerfMapsIndex(perfMapsDir);
  return jvmAgentWarning(snapshots, {
    pid, javaStacksWanted, perfMaps: index?.maps.length ?? 0,
    ...(index?.notes ? { perfMapNotes: index.notes } : {}),
  });
}
