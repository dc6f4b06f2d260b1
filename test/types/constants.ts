// Close codes and message types come from the package, not from numbers copied out of the README.
import { CLOSE_CODES, OUTCOMES, PUSH_MESSAGE, type CloseCode, type StasisClient } from '../../src/index.js';
import { exactly, expectType } from './helpers.js';

declare const Stasis: StasisClient;
declare function connect(): void;

// The README's reconnect rule, with the constants: hibernated, draining, idle mean "Stasis resumes, then `ready`".
const RESUMES_FIRST: readonly number[] = [CLOSE_CODES.hibernated, CLOSE_CODES.draining, CLOSE_CODES.idle];
function onClose(e: CloseEvent): void {
  if (RESUMES_FIRST.includes(e.code)) return;
  setTimeout(() => void Stasis.recover(e).then((s) => s.state === 'live' && connect()), 1000);
}
void onClose;

exactly<4001>()(CLOSE_CODES.hibernated);
exactly<4007>()(CLOSE_CODES.draining);
exactly<4008>()(CLOSE_CODES.idle);
expectType<CloseCode>(CLOSE_CODES.superseded);
// @ts-expect-error 1000 is a normal closure, not one of Stasis's codes
expectType<CloseCode>(1000);
// @ts-expect-error the codes are constants
CLOSE_CODES.hibernated = 4000;
// @ts-expect-error an array of the literal codes does not take any number: widen it, as above
void [CLOSE_CODES.hibernated, CLOSE_CODES.draining].includes(1006);

exactly<'stasis:hibernated'>()(PUSH_MESSAGE);
expectType<readonly string[]>(OUTCOMES);
