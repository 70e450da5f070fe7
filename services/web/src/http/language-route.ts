import type { FastifyInstance } from 'fastify';
import { isLanguage, LANGUAGE_COOKIE } from '../i18n/i18n';

/** A local path to come back to: `/`, letters, digits, `/`, `-` and `_`, nothing else. */
const LOCAL_PATH = /^\/[A-Za-z0-9/_-]*$/;
const ONE_YEAR_S = 365 * 24 * 3600;

/**
 * GET /language/:lang?back=/path: keeps the choice in a cookie and goes back to the page.
 * A GET because it is a link (it changes a display preference, nothing else).
 */
export function registerLanguageRoute(http: FastifyInstance): void {
  http.get<{ Params: { lang: string }; Querystring: { back?: string } }>(
    '/language/:lang',
    async (request, reply) => {
      const { lang } = request.params;
      const back = request.query.back;
      const target =
        typeof back === 'string' && LOCAL_PATH.test(back) && !back.startsWith('//') ? back : '/';
      if (isLanguage(lang)) {
        reply.setCookie(LANGUAGE_COOKIE, lang, {
          path: '/',
          sameSite: 'lax',
          httpOnly: true,
          maxAge: ONE_YEAR_S,
        });
      }
      return reply.header('cache-control', 'no-store').redirect(target, 303);
    },
  );
}
