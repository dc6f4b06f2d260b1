// `Stasis.status` narrows by `state`; the state table names every state and is read-only.
import { STATE_TRANSITIONS, type Outcome, type StasisClient, type StasisState, type StasisStatus } from '../../src/index.js';
import { assert, exactly, expectType, type Equal } from './helpers.js';

declare const Stasis: StasisClient;
const status = Stasis.status;

if (status.state === 'starting') {
  exactly<undefined>()(status.gen);
  exactly<undefined>()(status.paused);
  exactly<false>()(status.idle);
}
if (status.state === 'live') {
  exactly<Outcome | 'none'>()(status.lastOutcome);
  exactly<undefined>()(status.paused);
  // @ts-expect-error a new session is live before its generation is known
  status.gen.toFixed();
}
if (status.state === 'pending') {
  exactly<'unavailable'>()(status.lastOutcome);
  expectType<string>(status.lastMessage);
}
if (status.state === 'hibernated' || status.state === 'waiting') {
  exactly<'drain' | 'idle' | undefined>()(status.paused);
}
// @ts-expect-error without narrowing, the generation may be unknown
status.gen.toFixed();
// @ts-expect-error 'paused' is not a state (it is a field)
void (status.state === 'paused');

assert<Equal<StasisStatus['state'], StasisState>>();
assert<Equal<keyof typeof STATE_TRANSITIONS, StasisState>>();
expectType<readonly StasisState[]>(STATE_TRANSITIONS.live);
// @ts-expect-error the table is read-only
STATE_TRANSITIONS.live = [];
// @ts-expect-error and so are its lists
STATE_TRANSITIONS.hibernated[0] = 'live';

void Stasis.whenLive().then((s) => s.state === 'live' && s.lastOutcome.length);
