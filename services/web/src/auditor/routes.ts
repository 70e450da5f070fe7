// The auditor's console (issue 20), owned by W2. A stub until it lands: the server
// calls registerAuditorRoutes once, after the citizen's routes. See ../../README.md for
// the extension points (sessions, pages, CSRF, static scripts).
import type { FastifyInstance } from 'fastify';
import type { WebDeps } from '../app';

export function registerAuditorRoutes(_http: FastifyInstance, _deps: WebDeps): void {}
