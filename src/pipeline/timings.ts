/**
 * Where processing a run spends its time, phase by phase (main-thread milliseconds), for LEAKHUNT_TIMINGS=1 and
 * the benchmark. Phases overlap with work in the background (compression), so they need not add up to the total.
 */
export class ProcessTimings {
  readonly phases = new Map<string, number>();
  readonly counts = new Map<string, number>();

  add(phase: string, ms: number): void {
    this.phases.set(phase, (this.phases.get(phase) ?? 0) + ms);
  }

  count(name: string, value: number): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  time<T>(phase: string, work: () => T): T {
    const started = performance.now();
    try {
      return work();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  async timeAsync<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  /** One line: "read 1.20 s, symbolize 0.31 s, …; profiles 1.2 GB → 520 MB". */
  toJSON(): { phasesMs: Record<string, number>; counts: Record<string, number> } {
    return {
      phasesMs: Object.fromEntries([...this.phases].map(([k, v]) => [k, Math.round(v)])),
      counts: Object.fromEntries(this.counts),
    };
  }
}
