/**
 * Stage "push": a run's live-heap profiles into a continuous-profiling backend (Grafana Pyroscope, Parca), as they
 * are made (session.ts, live.ts) or later from the run directory (commands/push.ts). What it keeps in the run
 * directory (push/sent.jsonl, settings.json, lock) is read and written through rundir/push.ts.
 */
export { BACKENDS, EndpointError, parseBackend, parseEndpoint, parseHeader, scrub, type Backend, type PushEndpoint } from './endpoint.js';
export { HttpTransport, NetworkError, type Transport } from './http.js';
export {
  checkServiceName, defaultServiceName, LabelError, labelsFor, parseLabelOption, pyroscopeName, runLabels, type RunLabels,
} from './labels.js';
export { LiveProfiles, type LiveProfilesOptions } from './live.js';
export { ProfileFormError, pushFormOf, PUSHED_SAMPLE_TYPES, type PushProfile } from './profile.js';
export { backoffDelayMs, ProfilePusher, pushProfiles, type BackoffPolicy, type PusherOptions, type PushSummary } from './pusher.js';
export { PROFILE_NAME, requestFor, SPY_NAME, verdictOf, type HttpAnswer, type HttpRequest, type Verdict } from './requests.js';
export { DEFAULT_PUSH_WAIT_MS, pushSummaryLine, resolvePushTarget, startRunPush, type RunPush, type RunPushOptions } from './session.js';
