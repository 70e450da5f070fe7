import type { PageContext } from '../http/web-context';
import type { MessageKey } from '../i18n/i18n';
import { Layout, Notice } from './layout';

export function ErrorPage({
  page,
  message,
}: {
  readonly page: PageContext;
  readonly message: MessageKey;
}) {
  return (
    <Layout page={page} title={page.t('error.title')}>
      <Notice kind="error">{page.t(message)}</Notice>
      <p>
        <a href="/">{page.t('error.back')}</a>
      </p>
    </Layout>
  );
}
