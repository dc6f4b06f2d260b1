import 'fake-indexeddb/auto';
import { forceCloseDatabase } from 'fake-indexeddb';
import { it, expect } from 'vitest';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { Custodian } from '../../../worker/custodian.js';
import { Vault } from '../../../worker/vault.js';
import { makeSid, uniqueDbName, makeBlob, epochSeconds } from './blob.js';

const server = setupServer();
server.listen();

it('ok without blob', async () => {
  server.use(http.post('http://app.test/stasis/hibernate', () => HttpResponse.json({ outcome: 'ok', sid: 'x', gen: 1, exp: 1 })));
  const c = new Custodian({ openVault: () => Vault.open(uniqueDbName('p')) });
  const r = await c.hibernate({ endpoint: 'http://app.test/stasis', sid: makeSid() }).then((v) => v, (e) => `REJECT ${e}`);
  console.log('missing blob:', r);
});

it('force close', async () => {
  const name = uniqueDbName('p');
  let raw: Vault | undefined;
  const c = new Custodian({ openVault: async () => (raw = await Vault.open(name)) });
  const sid = makeSid();
  await c.peek(sid);
  const db = (raw as unknown as { db: unknown }).db;
  console.log(typeof db);
  // idb proxies: unwrap
  const { unwrap } = await import('idb');
  forceCloseDatabase(unwrap(db as never) as never);
  const r1 = await c.peek(sid).then((v) => v, (e) => `REJECT ${e}`);
  const r2 = await c.peek(sid).then((v) => v, (e) => `REJECT ${e}`);
  console.log('after close', r1, r2);
  server.use(http.post('http://app.test/stasis/hibernate', async ({request}) => { const {sid} = await request.json() as {sid:string}; return HttpResponse.json({ outcome: 'ok', sid, gen: 1, exp: epochSeconds(60), blob: makeBlob({sid, gen:1, exp: epochSeconds(60)}) }) }));
  const r3 = await c.hibernate({ endpoint: 'http://app.test/stasis', sid }).then((v) => v, (e) => `REJECT ${e}`);
  console.log('hibernate after close', r3);
});
