/**
 * A series that stays bounded however long a run lasts, by the same rule as the shim's snapshot retention
 * (native/FORMAT.md, "Retention"): every point of the first quarter, every point of the last quarter, and an
 * evenly thinned middle whose stride doubles when it would overflow. Used for what the CLI samples itself
 * (RSS, JVM figures) so that a week-long run keeps the same few hundred points as the snapshots it lines up with.
 */
export class ThinnedSeries<T> {
  private readonly early: T[] = [];
  /** Middle points, each with its index in the full series. */
  private middle: { index: number; value: T }[] = [];
  /** The last `recentCapacity` points, oldest first, each with its index. */
  private recent: { index: number; value: T }[] = [];
  private count = 0;
  private stride = 1;
  private readonly earlyCapacity: number;
  private readonly recentCapacity: number;
  private readonly middleCapacity: number;

  constructor(maxPoints: number) {
    if (!Number.isSafeInteger(maxPoints) || maxPoints < 8) throw new RangeError(`maxPoints ${maxPoints} < 8`);
    this.earlyCapacity = Math.floor(maxPoints / 4);
    this.recentCapacity = Math.floor(maxPoints / 4);
    this.middleCapacity = maxPoints - this.earlyCapacity - this.recentCapacity;
  }

  push(value: T): void {
    const index = this.count++;
    if (index < this.earlyCapacity) {
      this.early.push(value);
      return;
    }
    this.recent.push({ index, value });
    if (this.recent.length <= this.recentCapacity) return;
    const leaving = this.recent.shift()!;
    if ((leaving.index - this.earlyCapacity) % this.stride === 0) this.middle.push(leaving);
    while (this.middle.length > this.middleCapacity) {
      this.stride *= 2;
      this.middle = this.middle.filter((p) => (p.index - this.earlyCapacity) % this.stride === 0);
    }
  }

  /** Points pushed so far, kept or not. */
  get pushed(): number {
    return this.count;
  }

  /** The kept points in the order they were pushed. */
  values(): T[] {
    return [...this.early, ...this.middle.map((p) => p.value), ...this.recent.map((p) => p.value)];
  }
}
