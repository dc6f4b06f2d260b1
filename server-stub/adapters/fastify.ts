/**
 * `stasis/fastify`: a Fastify 4/5 plugin. Stasis answers every request under its base path (the endpoints
 * and the page bundles) from an `onRequest` hook, before Fastify parses any body, and passes everything else
 * on; it also serves its live channel on `fastify.server` (other WebSocket upgrades are left alone).
 *
 *   await fastify.register(fastifyStasis, { stasis });
 */
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { StasisServer } from '../index.js';

export interface FastifyStasisOptions {
  stasis: StasisServer<unknown>;
  /** Serve the built-in live channel on `fastify.server` (default true). False when you bring your own. */
  liveChannel?: boolean;
}

const plugin: FastifyPluginCallback<FastifyStasisOptions> = (fastify: FastifyInstance, options, done) => {
  const { stasis } = options;
  if (!stasis || typeof stasis.handle !== 'function') {
    done(new TypeError('fastifyStasis needs { stasis }: the server createStasisServer() resolved with.'));
    return;
  }
  const base = stasis.config.basePath;
  fastify.addHook('onRequest', (request, reply, next) => {
    const url = request.raw.url ?? '/';
    const path = url.slice(0, (url.indexOf('?') + 1 || url.length + 1) - 1);
    if (path !== base && !path.startsWith(`${base}/`)) return next();
    // Stasis answers on the raw response; Fastify stops here (no body parsing, no route, no reply.send).
    reply.hijack();
    stasis.handle(request.raw, reply.raw).catch((error: unknown) => {
      request.log.error({ err: error }, 'stasis request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
    });
    next();
  });
  if (options.liveChannel !== false) {
    const detach = stasis.attach(fastify.server);
    fastify.addHook('onClose', (_instance, finished) => {
      detach();
      finished();
    });
  }
  done();
};

// Like fastify-plugin: the hook applies to the whole app, not only to routes registered inside the plugin.
Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'stasis' });

export const fastifyStasis = plugin;
export default plugin;
