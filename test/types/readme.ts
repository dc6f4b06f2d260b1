// The typed example in README.md ("Typed usage"), verbatim apart from the declarations it assumes: it must compile.
import { createStasis, CLOSE_CODES, CLOSE_REASONS } from '../../src/index.js';

declare function render(message: unknown): void;
declare function report(code: string, message?: string): void;

const Stasis = createStasis();
const RESUMES_ITSELF: readonly number[] = [CLOSE_CODES.hibernated, CLOSE_CODES.draining, CLOSE_CODES.idle];

function connect(): void {
  const socket = new WebSocket(`wss://${location.host}/stasis/live?sid=${Stasis.sid}`);
  socket.onmessage = (e: MessageEvent<string>) => {
    const m: unknown = JSON.parse(e.data);
    if (!Stasis.receive(m)) render(m);
  };
  socket.onclose = (e) => {
    if (RESUMES_ITSELF.includes(e.code)) return; // Stasis resumes, then `ready`
    if (e.reason === CLOSE_REASONS.wrongBinding) report('wrong-binding');
    setTimeout(() => void Stasis.recover(e).then((s) => s.state === 'live' && connect()), 1000);
  };
}

Stasis.on('ready', (e) => {
  console.log(`session ${e.detail.sid} is usable (${e.detail.reason}, gen ${e.detail.gen ?? 'new'})`);
  connect();
});
Stasis.on('failed', (e) => report(e.code, e.detail.message)); // e.code: a FailureCode, never 'ok'
Stasis.on('hibernated', (e) => console.log(`kept ${e.detail.bytes} bytes at gen ${e.detail.gen}`));

const status = Stasis.status; // a union keyed on `state`
if (status.state === 'pending') console.log(`hibernate waiting for the network: ${status.lastMessage}`);
