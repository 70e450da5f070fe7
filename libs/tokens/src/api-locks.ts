/**
 * The platform's kill switch, as a contract every service shares: what an API lock
 * closes, and the one key each lock is stored, replicated and named by.
 */
export type ApiLockScope =
  | { readonly kind: 'method'; readonly method: string }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'partner'; readonly clientId: string }
  | { readonly kind: 'everything' };

export function apiLockKey(scope: ApiLockScope): string {
  switch (scope.kind) {
    case 'method':
      return `lock:method:${scope.method}`;
    case 'service':
      return `lock:service:${scope.service}`;
    case 'partner':
      return `lock:partner:${scope.clientId}`;
    case 'everything':
      return 'lock:everything';
  }
}

/** The keys of the locks that would close this method to this client, broadest first. */
export function apiLockKeysFor(method: string, clientId: string): string[] {
  const service = method.split('/')[1] ?? '';
  return [
    'lock:everything',
    `lock:service:${service}`,
    `lock:method:${method}`,
    `lock:partner:${clientId}`,
  ];
}
