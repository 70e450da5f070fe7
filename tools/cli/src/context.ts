// What every command runs with: the global options, the platform's description (read
// once, when a command first needs it), the operator's client, staff sessions (cached
// beside the description so a platform admin's session outlives one command: the global
// lock closes sign-in too, and only a session from before it clears it), and output as
// text or JSON.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { OperatorClient } from '@vaxguard/dev-operator';
import { readPlatformDescription, type PlatformDescription } from '@vaxguard/dev-platform';
import { isVaxGuardError } from '@vaxguard/errors';
import { UnreachableError, UsageError } from './errors';

/** Where npm start writes its description, from the repository root. */
export const DEFAULT_PLATFORM_FILE = '.vaxguard/dev/platform.json';

export interface GlobalOptions {
  readonly platform: string;
  readonly json: boolean;
}

/** The outside world of one run: tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars go there only then). */
  readonly stderrIsTty: boolean;
  readonly stderrStream?: NodeJS.WritableStream;
  readonly cwd: string;
  /** All of standard input, for `--token-file -` and `--password-file -`. */
  readonly readStdin: () => Promise<string>;
  /** Aborted on Ctrl-C: commands that follow something stop and exit 0. */
  readonly signal: AbortSignal;
}

export interface StaffCredentials {
  readonly username: string;
  readonly password: string;
}

interface CachedSession {
  readonly token: string;
  readonly expiresAt: string;
}

/** A cached session is used only while it has at least this long to live. */
const SESSION_MARGIN_MS = 60_000;

export class CommandContext {
  private description: PlatformDescription | undefined;
  private operatorClient: OperatorClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {}

  get json(): boolean {
    return this.options.json;
  }

  /** The description file, as an absolute path. */
  get platformFile(): string {
    return resolve(this.io.cwd, this.options.platform);
  }

  /** The folder of the description: npm start's state, or a test's platform folder. */
  get platformDir(): string {
    return dirname(this.platformFile);
  }

  /** A path the user gave, resolved from where they ran the command. */
  path(file: string): string {
    return resolve(this.io.cwd, file);
  }

  /** A path as output shows it: from where the command ran when it is below, else whole. */
  shown(path: string): string {
    const fromHere = relative(this.io.cwd, path);
    return fromHere && !fromHere.startsWith('..') && !isAbsolute(fromHere) ? fromHere : path;
  }

  platform(): PlatformDescription {
    if (this.description) return this.description;
    if (!existsSync(this.platformFile)) {
      throw new UnreachableError(
        `no platform description at ${this.options.platform}: run npm start, or pass --platform <file>`,
      );
    }
    try {
      this.description = readPlatformDescription(this.platformFile);
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    return this.description;
  }

  operator(): OperatorClient {
    if (!this.operatorClient) {
      const platform = this.platform();
      this.operatorClient = new OperatorClient({
        services: platform.services,
        client: platform.client,
        smsInbox: platform.smsInbox,
      });
    }
    return this.operatorClient;
  }

  /** The platform admin of the description. */
  adminCredentials(): StaffCredentials {
    return this.platform().admin;
  }

  /**
   * Runs `use` with a staff session: the cached one while it lives, else a fresh sign-in
   * (password, then the STAFF_LOGIN code from the dev SMS inbox). A cached session the
   * platform no longer accepts (restarted, revoked) is dropped and signed in again once.
   */
  async asStaff<T>(credentials: StaffCredentials, use: (token: string) => Promise<T>): Promise<T> {
    const cached = this.cachedSession(credentials.username);
    if (cached) {
      try {
        return await use(cached);
      } catch (error) {
        if (!isVaxGuardError(error) || error.code !== 'UNAUTHENTICATED') throw error;
        this.storeSession(credentials.username, undefined);
      }
    }
    return use(await this.signIn(credentials));
  }

  /** A staff session, signing in unless a cached one has `minimumLifeMs` to live. */
  async staffSession(
    credentials: StaffCredentials,
    { minimumLifeMs = SESSION_MARGIN_MS }: { minimumLifeMs?: number } = {},
  ): Promise<{ token: string; expiresAt: Date }> {
    const cached = this.sessions()[this.sessionKey(credentials.username)];
    if (cached && this.cachedSession(credentials.username, minimumLifeMs)) {
      return { token: cached.token, expiresAt: new Date(cached.expiresAt) };
    }
    const token = await this.signIn(credentials);
    const stored = this.sessions()[this.sessionKey(credentials.username)] as CachedSession;
    return { token, expiresAt: new Date(stored.expiresAt) };
  }

  private async signIn(credentials: StaffCredentials): Promise<string> {
    const { token, claims } = await this.operator().staffSignIn(
      credentials.username,
      credentials.password,
    );
    this.storeSession(credentials.username, {
      token,
      expiresAt: (claims?.expiresAt ?? new Date(Date.now() + 5 * 60_000)).toISOString(),
    });
    return token;
  }

  private get sessionFile(): string {
    return resolve(this.platformDir, 'cli-sessions.json');
  }

  private sessionKey(username: string): string {
    const platform = this.platform();
    return `${platform.services.identity} ${platform.client.id} ${username}`;
  }

  private sessions(): Record<string, CachedSession> {
    if (!existsSync(this.sessionFile)) return {};
    try {
      return JSON.parse(readFileSync(this.sessionFile, 'utf8')) as Record<string, CachedSession>;
    } catch {
      // A damaged cache is no loss: sign in again.
      return {};
    }
  }

  private cachedSession(username: string, minimumLifeMs = SESSION_MARGIN_MS): string | undefined {
    const session = this.sessions()[this.sessionKey(username)];
    if (!session) return undefined;
    return new Date(session.expiresAt).getTime() - Date.now() > minimumLifeMs
      ? session.token
      : undefined;
  }

  private storeSession(username: string, session: CachedSession | undefined): void {
    const now = Date.now();
    const kept = Object.entries(this.sessions()).filter(
      ([key, value]) =>
        key !== this.sessionKey(username) && new Date(value.expiresAt).getTime() > now,
    );
    if (session) kept.push([this.sessionKey(username), session]);
    // Staff sessions are credentials: readable by their owner only, like the description.
    writeFileSync(this.sessionFile, `${JSON.stringify(Object.fromEntries(kept), null, 2)}\n`, {
      mode: 0o600,
    });
    chmodSync(this.sessionFile, 0o600);
  }

  /** A command's result: its lines as text, or one JSON document. */
  result(text: readonly string[], json: unknown): void {
    if (this.json) this.io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    else if (text.length > 0) this.io.stdout(`${text.join('\n')}\n`);
  }

  /** One item of a followed stream: a line of text, or one JSON object per line. */
  item(text: string, json: unknown): void {
    this.io.stdout(this.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  }

  /** A remark for the person at the terminal (stderr): never part of the output. */
  note(text: string): void {
    this.io.stderr(`${text}\n`);
  }

  /** Reads a file the user named, `-` meaning standard input; trimmed. */
  async readInput(file: string, what: string): Promise<string> {
    if (file === '-') return (await this.io.readStdin()).trim();
    const path = this.path(file);
    if (!existsSync(path)) throw new UsageError(`${what}: no such file ${file}`);
    return readFileSync(path, 'utf8').trim();
  }

  close(): void {
    this.operatorClient?.close();
  }
}
