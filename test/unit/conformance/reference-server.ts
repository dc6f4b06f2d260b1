/**
 * The reference server in-process, set up as docs/conformance.md asks of any server under test: the published
 * test key ring, audience and schema (docs/vectors/keys.json), the conformance app, checkpoints on and a resume
 * failure limit of 100 a minute.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStasisServer, silentLogger, type StasisServer, type StasisServerOptions } from '../../../server-stub/index.js';
import conformanceApp from '../../../server-stub/conformance/reference-app.js';
import { loadVectors } from '../../../server-stub/conformance/vectors.js';

export interface Running {
  stasis: StasisServer;
  server: Server;
  /** `http://127.0.0.1:PORT/stasis` */
  base: string;
  port: number;
  close(): Promise<void>;
}

/** The settings of the setup contract (docs/conformance.md). */
export function contractOptions(): StasisServerOptions {
  const vectors = loadVectors();
  return {
    app: conformanceApp,
    keys: vectors.ring,
    audience: vectors.audience,
    schema: vectors.schema,
    checkpointSeconds: 60,
    resumeFailuresPerMinute: 100,
    logger: silentLogger,
  };
}

export async function startReference(overrides: Partial<StasisServerOptions> = {}): Promise<Running> {
  const stasis = await createStasisServer({ ...contractOptions(), ...overrides });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void stasis.handle(req, res).then((handled) => handled || res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n'));
  });
  stasis.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    stasis,
    server,
    port,
    base: `http://127.0.0.1:${port}/stasis`,
    async close() {
      await stasis.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
