import type { ComponentChildren } from 'preact';
import type { PageContext } from '../http/web-context';
import type { MessageKey } from '../i18n/i18n';

export interface NavLink {
  readonly href: string;
  readonly label: MessageKey;
}

export interface LayoutProps {
  readonly page: PageContext;
  readonly title: string;
  /** The site's own links (the citizen's or the auditor's), shown when signed in. */
  readonly nav?: readonly NavLink[];
  /** Where the sign-out form posts, when someone is signed in. */
  readonly signOutAction?: string;
  /** Bundled browser scripts (`/static/<name>.js`, from src/browser); none by default. */
  readonly scripts?: readonly string[];
  readonly children: ComponentChildren;
}

/**
 * Every page's frame: the language, one stylesheet, the skip link, the navigation, the
 * language switch and the sign-out form. No inline script or style (the CSP forbids them).
 */
export function Layout({ page, title, nav, signOutAction, scripts = [], children }: LayoutProps) {
  const { t } = page;
  const other = page.lang === 'en' ? 'hi' : 'en';
  return (
    <html lang={page.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · ${t('site.name')}`}</title>
        <link rel="stylesheet" href="/static/site.css" />
        {scripts.map((name) => (
          <script key={name} src={`/static/${name}.js`} defer />
        ))}
      </head>
      <body>
        <a class="skip" href="#main">
          {t('site.skip')}
        </a>
        <header class="site">
          <span class="brand">{t('site.name')}</span>
          {nav && nav.length > 0 && (
            <nav aria-label={t('nav.label')}>
              <ul>
                {nav.map((link) => (
                  <li key={link.href}>
                    <a href={link.href} aria-current={page.path === link.href ? 'page' : undefined}>
                      {t(link.label)}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          <a
            class="lang"
            href={`/language/${other}?back=${encodeURIComponent(page.path)}`}
            hreflang={other}
            lang={other}
          >
            {t('lang.other')}
          </a>
          {signOutAction && (
            <form method="post" action={signOutAction} class="sign-out">
              <CsrfField page={page} />
              <button type="submit">{t('nav.signOut')}</button>
            </form>
          )}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
        <footer>
          <p>{t('site.footer')}</p>
        </footer>
      </body>
    </html>
  );
}

/** The hidden field every POST form carries. */
export function CsrfField({ page }: { readonly page: PageContext }) {
  return <input type="hidden" name="_csrf" value={page.csrfToken} />;
}

/** A message in a box that screen readers announce. */
export function Notice({
  kind,
  children,
}: {
  readonly kind: 'error' | 'info';
  readonly children: ComponentChildren;
}) {
  return (
    <p class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}
