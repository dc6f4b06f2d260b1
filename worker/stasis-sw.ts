// Entry of dist/stasis-sw.js: a classic script that installs itself, so it can be served as the
// service worker or pulled into an existing one with importScripts('/stasis-sw.js').
import { installStasisWorker, type ServiceWorkerScope } from './service-worker.js';

installStasisWorker(self as unknown as ServiceWorkerScope);
