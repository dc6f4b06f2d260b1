// Each Stasis event has its own `code` and `detail`, through `on` and `addEventListener` alike.
import type {
  FailureCode,
  Outcome,
  StasisClient,
  StasisEvent,
  StasisEventDetail,
  StasisEventMap,
  StasisEventType,
  StasisReadyReason,
  StasisStatus,
} from '../../src/index.js';
import { assert, exactly, expectType, type Equal } from './helpers.js';

declare const Stasis: StasisClient;

Stasis.on('ready', (e) => {
  exactly<StasisEvent<'ready'>>()(e);
  exactly<StasisReadyReason>()(e.detail.reason);
  exactly<number | undefined>()(e.detail.gen);
  exactly<'ok'>()(e.code);
  expectType<string>(e.detail.sid);
  expectType<StasisStatus>(e.detail.status);
  // @ts-expect-error a new session's generation is not known yet
  expectType<number>(e.detail.gen);
  // @ts-expect-error orphan is not a field of ready
  void e.detail.orphan;
  // @ts-expect-error nor is phase
  void e.detail.phase;
});

Stasis.addEventListener('ready', (e) => e.detail.reason === 'adopted');
// @ts-expect-error `ready` has no such reason
Stasis.on('ready', (e) => e.detail.reason === 'restored');

for (const type of ['hibernated', 'resumed'] as const) {
  Stasis.on(type, (e) => e.detail.gen.toFixed());
}
Stasis.on('hibernated', (e) => {
  exactly<number>()(e.detail.bytes);
  exactly<'hibernate'>()(e.detail.phase);
});
Stasis.on('resumed', (e) => {
  exactly<'resume'>()(e.detail.phase);
  // @ts-expect-error a resume stores nothing: no bytes
  void e.detail.bytes;
});
Stasis.on('hibernating', (e) => exactly<'pending'>()(e.code));
Stasis.on('resuming', (e) => exactly<'pending'>()(e.code));

Stasis.addEventListener('failed', (e) => {
  exactly<FailureCode>()(e.code);
  // @ts-expect-error a failure is never ok
  void (e.code === 'ok');
  if (e.detail.phase === 'hibernate') expectType<string>(e.detail.message);
  // @ts-expect-error a resume failure may come without a message
  else expectType<string>(e.detail.message);
});
Stasis.on('reset', (e) => {
  exactly<FailureCode>()(e.code);
  exactly<true | undefined>()(e.detail.quiet);
  expectType<string>(e.detail.message);
});

Stasis.on('orphan', (e) => {
  exactly<{ sid: string; gen: number; storedAt: number }>()(e.detail.orphan);
  void Stasis.adopt(e.detail.orphan.sid);
});
Stasis.on('custody', (e) => {
  exactly<'ok' | 'none'>()(e.code);
  expectType<string>(e.detail.message);
});
Stasis.on('checkpoint', (e) => e.detail.gen + e.detail.bytes);
Stasis.on('statuschange', (e) => {
  exactly<Outcome | 'none' | 'pending'>()(e.code);
  expectType<StasisStatus>(e.detail.status);
  // @ts-expect-error statuschange carries the status, no gen of its own
  void e.detail.gen;
});

// @ts-expect-error not a Stasis event
Stasis.on('hibernate', () => undefined);
// Any other type is a plain Event, as on any EventTarget; the listener's `this` is the client.
Stasis.addEventListener('click', (e) => exactly<Event>()(e));
Stasis.addEventListener('ready', function () {
  exactly<StasisClient>()(this);
});
const onFailed = (e: StasisEventMap['failed']) => void e.code;
Stasis.addEventListener('failed', onFailed);
Stasis.removeEventListener('failed', onFailed);
// @ts-expect-error a `failed` listener is not a `ready` listener
Stasis.addEventListener('ready', onFailed);
const off: () => void = Stasis.on('failed', onFailed);
off();

// The map, the type union and the detail types agree.
assert<Equal<StasisEventType, keyof StasisEventMap>>();
assert<Equal<StasisEventMap['orphan'], StasisEvent<'orphan'>>>();
assert<Equal<StasisEventDetail<'checkpoint'>, { gen: number; bytes: number } & { sid: string; status: StasisStatus }>>();

// `StasisEvent` alone is any Stasis event: a listener for it fits every type.
function log(e: StasisEvent): string {
  // @ts-expect-error not every event has a gen
  void e.detail.gen;
  return `${e.type} ${e.code} ${e.detail.sid}`;
}
for (const type of ['ready', 'failed', 'orphan'] as const) Stasis.on(type, log);

// The events as a union narrow by `type`.
function describe(e: StasisEventMap[StasisEventType]): string {
  if (e.type === 'hibernated') return `${e.detail.bytes} bytes`;
  if (e.type === 'orphan') return e.detail.orphan.sid;
  // @ts-expect-error not every other event has `bytes` (checkpoint has)
  void e.detail.bytes;
  return e.type;
}
void describe;
