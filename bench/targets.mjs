// Issue #12's targets, as RESULTS.md opens with them: what each measured, its limit, and why a missed one missed.
import { fmt, fmtRatio, fmtSigned, median, mib, nsAPair } from './figures.mjs';
import { table } from './markdown.mjs';

/** Issue #12: the unsampled malloc+free pair costs +2–3 ns over bare, and must stay so. */
const IDLE_LIMIT_NS = 3;

/** A ratio beside its limit: three decimals when two would round it onto the limit. */
function fmtNear(x, limit) {
  return Number.isFinite(x) && Math.abs(x - limit) < 0.005 ? `${x.toFixed(3)}×` : fmtRatio(x);
}

/** How far a ratio misses its limit: two decimals, three when two would print "0.00" for a real miss. */
function byRatio(x) {
  return x < 0.005 ? x.toFixed(3) : x.toFixed(2);
}

/** The per-round ratios' median and range, after a ratio of medians. */
function roundSpread(ratios) {
  if (!ratios || ratios.length < 2) return '';
  return ` (round by round: median ${fmtRatio(median(ratios))}, ${fmtRatio(Math.min(...ratios))}–${fmtRatio(Math.max(...ratios))})`;
}

/**
 * The section that opens RESULTS.md: each of issue #12's targets (`targets`, filled in by the sections that measured
 * them) beside its limit, met or missed by how much, and a paragraph for each missed ratio a profile can speak to.
 * `previousIdle`: the unsampled path's added ns in the results this run replaces, per thread count.
 */
export function targetsSection(targets, previousIdle) {
  const rows = [];
  const status = (ok, miss) => (ok ? 'met' : `**missed**: ${miss}`);
  const j = targets.jvm;
  if (j) {
    const lucky = luckyReadings(j);
    const luck = `**met in this sitting only**: the shim's own frames are ${percent(j.profile?.inShim)} of the JVM's CPU (perf, below)`;
    rows.push(['peer JVM workload: ops/s under leakhunt / bare', `${fmtNear(j.opsRatio, 0.97)}${roundSpread(j.opsPerRound)}`, '≥ 0.97×',
      j.opsRatio >= 0.97 && lucky.ops ? luck : status(j.opsRatio >= 0.97, `by ${byRatio(0.97 - j.opsRatio)}`)]);
    rows.push(['peer JVM workload: JVM CPU per operation / bare', `${fmtNear(j.cpuRatio, 1.02)}${roundSpread(j.cpuPerRound)}`, '≤ 1.02×',
      j.cpuRatio <= 1.02 && lucky.cpu ? luck : status(j.cpuRatio <= 1.02, `by ${byRatio(j.cpuRatio - 1.02)}`)]);
    rows.push(['… the shim and agent alone, without the CLI: ops/s, CPU per operation', `${fmtRatio(j.inProcessOpsRatio)}, ${fmtRatio(j.inProcessCpuRatio)}`,
      'measured', '']);
    if (j.profile) {
      rows.push(['… why, from the perf profile: the shim\'s share of all the JVM\'s CPU samples', `${percent(j.profile.inShim)}: Java stacks`
        + ` (AsyncGetCallTrace) ${percent(j.profile.javaStack)}, the rest of the sampled paths ${percent(j.profile.sampled)}, the unsampled`
        + ` paths ${percent(j.profile.unsampled)}, the writer ${percent(j.profile.writer)}, start-up and the final snapshot ${percent(j.profile.lifecycle)}`, 'measured', '']);
    }
    rows.push(['the shim\'s resident memory on the JVM workload (largest round)', mib(j.residentBytes), '≤ 4 MiB',
      status(j.residentBytes <= 4 * 1048576, `by ${mib(j.residentBytes - 4 * 1048576)}`)]);
  }
  for (const p of targets.peerMalloc ?? []) {
    rows.push([`peer malloc-bench, ${p.threads} thread${p.threads > 1 ? 's' : ''}, 512 KiB sampling / bare`, fmtNear(p.ratio, 1.06), '≤ 1.06×',
      status(p.ratio <= 1.06, `by ${byRatio(p.ratio - 1.06)}`)]);
    if (p.profile) {
      const perPair = (x) => `${percent(x)} (${nsAPair(x, p.profile.nsPerPair)})`;
      rows.push(['… why, from the perf profile: the shim\'s share of the run\'s samples', `${percent(p.profile.inShim)}: the interposition`
        + ` itself ${perPair(p.profile.unsampled)}, the sampled paths ${perPair(p.profile.sampled)}, the writer ${percent(p.profile.writer)},`
        + ` start-up and the final snapshot (not timed) ${percent(p.profile.lifecycle)}`, 'measured', '']);
    }
  }
  for (const p of targets.peerMalloc ?? []) {
    const before = previousIdle[String(p.threads)];
    // The issue's "unchanged" is its own figure, +2–3 ns: a limit, so a cheaper path is never reported as a miss. The
    // previous results file's figure is shown beside it, for the trend.
    rows.push([`unsampled malloc+free (shim idle − bare), peer malloc-bench, ${p.threads} thread${p.threads > 1 ? 's' : ''}`,
      `${fmtSigned(p.idleAddedNs, 1)} ns`, `≤ +${IDLE_LIMIT_NS} ns (unchanged)${before === undefined ? '' : `; ${fmtSigned(before, 1)} ns in the previous results`}`,
      status(p.idleAddedNs <= IDLE_LIMIT_NS, `by ${(p.idleAddedNs - IDLE_LIMIT_NS).toFixed(1)} ns`)]);
  }
  for (const s of targets.perSample ?? []) {
    // With runs pinned, each CPU's median beside the median of all rounds: a core slowed by its host shows here.
    rows.push([`cost per sampled allocation (malloc + its free), ${s.frames ?? '?'} frames`,
      `${fmt(s.ns, Math.abs(s.ns - s.limitNs) < 1 ? 1 : 0)} ns${s.byCpu ? ` (per CPU: ${s.byCpu})` : ''}`, `≤ ${s.limitNs} ns`,
      status(s.ns <= s.limitNs, `by ${fmt(s.ns - s.limitNs, s.ns - s.limitNs < 1 ? 1 : 0)} ns`)]);
  }
  if (rows.length === 0) return '';
  return ['### Issue #12\'s targets (figures from the tables below)', '',
    table(['target', 'measured', 'limit', ''], rows), ...whyMissed(targets).flatMap((line) => ['', line])].join('\n');
}

const percent = (x) => `${(100 * x).toFixed(1)}%`;

/**
 * Which JVM readings are better than the profile allows. The least CPU per operation the workload can show under the
 * shim is the bare work plus the shim's own frames' share of the JVM's samples; a sitting whose CPU ratio reads under
 * that (or whose ops/s reads over its inverse) was lucky in its bare runs, and its reading cannot show a target met.
 * Neither without a profile.
 */
function luckyReadings(j) {
  if (!j?.profile) return { cpu: false, ops: false };
  const floor = 1 + j.profile.inShim;
  return { cpu: j.cpuRatio < floor, ops: j.opsRatio > 1 / floor };
}

/** For each missed ratio the profile can speak to: what the perf profile says the time went to. */
function whyMissed(targets) {
  const lines = [];
  const j = targets.jvm;
  const lucky = luckyReadings(j);
  if (j?.profile && (j.cpuRatio > 1.02 || j.opsRatio < 0.97 || lucky.cpu || lucky.ops)) {
    const rest = j.profile.inShim - j.profile.javaStack;
    const title = j.cpuRatio > 1.02 || j.opsRatio < 0.97 ? 'Why the JVM\'s ratios miss.' : 'Why the JVM\'s ratios are not taken as met.';
    lines.push(`**${title}** The shim's own frames are ${percent(j.profile.inShim)} of the JVM's CPU samples, so CPU per`
      + ` operation cannot read much under ${(1 + j.profile.inShim).toFixed(3)}× on this workload. The largest part, ${percent(j.profile.javaStack)},`
      + ' is AsyncGetCallTrace, the JVM\'s own walk of a Java stack, taken for nearly every sample here; the rest,'
      + ` ${percent(rest)}, is ${rest <= 0.02 ? 'within' : 'more than'} the 2% the target allows. Meeting it needs a walk of Java stacks cheaper than the JVM's own.`
      + ` ${j.cpuRatio > 1.02 ? 'The rest of the distance is' : 'This sitting read better than that because of'} the spread of this machine's runs: round by round the CPU ratio ran from`
      + ` ${fmtRatio(Math.min(...(j.cpuPerRound ?? [NaN])))} to ${fmtRatio(Math.max(...(j.cpuPerRound ?? [NaN])))}, and ops/s also loses`
      + ' what the CLI uses on the same cores (its share is under the JVM table).');
  }
  for (const p of targets.peerMalloc ?? []) {
    if (!p.profile || p.ratio <= 1.06) continue;
    const ns = (x) => nsAPair(x, p.profile.nsPerPair);
    const others = p.profile.top.filter((t) => !/^the shim: (malloc|free)$/.test(t.entry)).slice(0, 2);
    lines.push(`**Why the peer malloc-bench at ${p.threads} thread${p.threads > 1 ? 's' : ''} misses.** Against bare, the idle shim alone adds`
      + ` ${fmtSigned(p.idleAddedNs, 1)} ns a pair: one more indirect jump into malloc and into free, the countdown and the filter byte.`
      + ` In the profile the interposition is ${percent(p.profile.unsampled)} of the samples (${ns(p.profile.unsampled)}) and the sampled`
      + ` paths ${percent(p.profile.sampled)} (${ns(p.profile.sampled)}); their largest entries besides the entry points: `
      + `${others.map((t) => `${t.entry.replace(/^the shim: /, '')} ${percent(t.share)}`).join(', ') || 'none'}.`
      + (others.some((t) => t.entry.endsWith('counter_add')) ? ' counter_add is the sampled insert\'s and free\'s update of a filter counter: with few live samples the filter'
        + ' is small, every thread\'s frees read all of its lines, and each update takes its line from the other core.' : ''));
  }
  for (const s of targets.perSample ?? []) {
    const fastest = Math.min(...(s.cpuMedians ?? []).map((c) => c.ns));
    const slowest = Math.max(...(s.cpuMedians ?? []).map((c) => c.ns));
    if (s.ns <= s.limitNs || !(fastest <= s.limitNs)) continue;
    lines.push(`**Why the cost per sampled allocation with ${s.frames ?? '?'} frames misses.** Pinned, its rounds read`
      + ` ${s.cpuMedians.map((c) => `${fmt(c.ns, 0)} ns on cpu${c.cpu}`).join(' and ')}: the cores ran ${fmt((100 * (slowest - fastest)) / fastest, 0)}%`
      + ' apart in this sitting (on this VM one core can run slower than the other for minutes, its host\'s doing), and the median'
      + ` of all rounds takes half of them from the slower one. On the faster core it is within the ${s.limitNs} ns.`);
  }
  return lines;
}
