/**
 * The labels every pushed profile carries — service_name, host, pid, run and the user's --label k=v — and the rules
 * they must keep so that both backends store them as given.
 *
 * The strictest reader decides each rule:
 *  - Pyroscope's /ingest takes the labels in its `name` query parameter as `app{k=v,k=v}` and parses it with no
 *    escape at all (grafana/pyroscope api/model/labelset/labelset.go, Parse: a value runs to the next `,` or `}`
 *    and is TrimSpace'd; a key may hold [A-Za-z0-9_.] only, validate.go IsLabelNameRuneAllowed; the app name
 *    [A-Za-z0-9_.-/], IsServiceNameRuneAllowed). So a value can never hold `,` or `}`, nor start or end with a space.
 *  - Its distributor then validates every label (pkg/validation/validate.go, ValidateLabels: names sanitized to
 *    Prometheus' legacy form, values valid UTF-8 and at most MaxLabelValueLength, default 2048; names starting with
 *    `__` are dropped unless allowed, pkg/model/labels.go IsLabelAllowedForIngestion).
 *  - Parca's WriteRaw rejects a name that is not a valid Prometheus label name and any duplicate
 *    (parca-dev/parca pkg/normalizer/normalizer.go, NormalizeWriteRawRequest).
 * Names are therefore Prometheus' legacy names [a-zA-Z_][a-zA-Z0-9_]* (valid under every scheme), never `__…`.
 */
import { hostname } from 'node:os';
import { basename } from 'node:path';

/** What a label name and value may be; the checks say why in one line (the caller adds where it came from). */
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SERVICE_NAME = /^[A-Za-z0-9_.\-/]+$/;
export const MAX_LABEL_VALUE_LENGTH = 1024;
/** Half of a UTF-16 pair without the other half: no UTF-8 encoding exists for it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Labels of our own besides the user's, and a margin under Pyroscope's default of 30 names per series. */
export const MAX_USER_LABELS = 16;

/** Names the user cannot set with --label: ours, set otherwise (service_name by --service). */
const RESERVED = new Map([
  ['service_name', 'set it with --service'],
  ['pid', 'it is set to each process\'s pid'],
  ['run', 'it is set to the run directory\'s name'],
]);

/** The labels of a run: per profile, `pid` is added (labelsFor). */
export interface RunLabels {
  service: string;
  host: string;
  run: string;
  /** The user's --label k=v, in the order given (host may be among them: it replaces ours). */
  extra: [string, string][];
}

export class LabelError extends Error {}

/** Why `name` cannot be a label name, or undefined. */
export function labelNameProblem(name: string): string | undefined {
  if (!LABEL_NAME.test(name)) return `"${name}" is not a label name (letters, digits and _, not starting with a digit)`;
  if (name.startsWith('__')) return `"${name}": names starting with __ are the backends' own`;
  const reserved = RESERVED.get(name);
  return reserved ? `"${name}" is set by leakhunt: ${reserved}` : undefined;
}

/** Why `value` cannot be a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return 'an empty value (a label without a value is no label)';
  if (value.length > MAX_LABEL_VALUE_LENGTH) return `a value longer than ${MAX_LABEL_VALUE_LENGTH} characters`;
  if (/[,}]/.test(value)) return 'a value with "," or "}" (Pyroscope\'s name={…} syntax has no escape for them)';
  if (value.trim() !== value) return 'a value starting or ending with white space (Pyroscope trims it)';
  // Lone surrogates are not UTF-8; control characters have no place in a label.
  if (/[\u0000-\u001f\u007f]/.test(value) || LONE_SURROGATE.test(value)) return 'a value with control characters or invalid Unicode';
  return undefined;
}

/** Parses one --label: `name=value`. */
export function parseLabelOption(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new LabelError(`--label "${text}": expected name=value`);
  const name = text.slice(0, at);
  const value = text.slice(at + 1);
  const problem = name === 'host' ? undefined : labelNameProblem(name);
  if (problem) throw new LabelError(`--label ${problem}`);
  const valueProblem = labelValueProblem(value);
  if (valueProblem) throw new LabelError(`--label ${name}: ${valueProblem}`);
  return [name, value];
}

export function checkServiceName(name: string): string {
  if (!SERVICE_NAME.test(name) || name.length > MAX_LABEL_VALUE_LENGTH) {
    throw new LabelError(`--service "${name}": a service name is letters, digits and _ . - / (what Pyroscope accepts as an application name)`);
  }
  return name;
}

/** A value we make ourselves (a host name, a directory's name) made acceptable: the characters no backend takes become _. */
export function sanitizeLabelValue(value: string): string {
  const cleaned = value.replace(/[,}\u0000-\u001f\u007f]/g, '_').trim().slice(0, MAX_LABEL_VALUE_LENGTH);
  return cleaned === '' ? 'unknown' : cleaned.replace(new RegExp(LONE_SURROGATE.source, 'g'), '_');
}

export function sanitizeServiceName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.\-/]/g, '_').slice(0, MAX_LABEL_VALUE_LENGTH);
  return cleaned === '' ? 'leakhunt' : cleaned;
}

/**
 * The service a command stands for: the program's name, and for a JVM the jar (-jar app.jar → app) or the main class
 * (java … com.example.Main → com.example.Main), which say more than "java".
 */
export function defaultServiceName(command: readonly string[]): string {
  const program = basename(command[0] ?? '');
  if (program === 'java' || program === 'javaw') {
    const jar = command.indexOf('-jar');
    if (jar > 0 && command[jar + 1]) return sanitizeServiceName(basename(command[jar + 1]!).replace(/\.jar$/, ''));
    const main = mainClassOf(command.slice(1));
    if (main) return sanitizeServiceName(main);
  }
  return sanitizeServiceName(program);
}

/** The first argument of a java command line that is not an option or an option's value. */
function mainClassOf(args: readonly string[]): string | undefined {
  const takesValue = new Set(['-cp', '-classpath', '--class-path', '-p', '--module-path', '--add-modules', '--add-opens', '--add-exports']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (takesValue.has(arg)) i++;
    else if (arg === '-m' || arg === '--module') return args[i + 1]?.split('/').pop();
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The run's labels from the options given; throws a LabelError with one line on a bad one. */
export function runLabels(options: { service?: string; labels?: readonly string[]; command: readonly string[]; runDir: string }): RunLabels {
  const service = options.service === undefined ? defaultServiceName(options.command) : checkServiceName(options.service);
  const extra = (options.labels ?? []).map(parseLabelOption);
  if (extra.length > MAX_USER_LABELS) throw new LabelError(`--label: at most ${MAX_USER_LABELS} labels`);
  const seen = new Set<string>();
  for (const [name] of extra) {
    if (seen.has(name)) throw new LabelError(`--label ${name} is given twice`);
    seen.add(name);
  }
  return { service, host: sanitizeLabelValue(hostname()), run: sanitizeLabelValue(basename(options.runDir)), extra };
}

/** The labels of one process's profiles, service_name first, in a fixed order. */
export function labelsFor(run: RunLabels, pid: number): [string, string][] {
  const extra = new Map(run.extra);
  const host = extra.get('host') ?? run.host;
  extra.delete('host');
  return [['service_name', run.service], ['host', host], ['pid', String(pid)], ['run', run.run], ...extra];
}

/**
 * Pyroscope's `name` query parameter: `service{k=v,…}` (labelset.Parse's syntax; the service is the application
 * name, which the server turns into the service_name label, pkg/og/convert/pprof/profile.go createLabels).
 */
export function pyroscopeName(labels: readonly [string, string][]): string {
  const service = labels.find(([name]) => name === 'service_name')?.[1] ?? 'leakhunt';
  const rest = labels.filter(([name]) => name !== 'service_name').map(([name, value]) => `${name}=${value}`);
  return `${service}{${rest.join(',')}}`;
}
