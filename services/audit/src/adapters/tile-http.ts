import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Logger } from '@vaxguard/logging';
import { listenOnLoopback, type LoopbackHttp } from '@vaxguard/runtime';
import {
  entryBundle,
  HASH_SIZE,
  MalformedTileError,
  parseTilePath,
  TILE_WIDTH,
  tileWidthInTree,
  type SizedTile,
  type TileStore,
} from '@vaxguard/tlog';
import type { LogEntry, LogHead, StoredCheckpoint } from '../domain/model';
import {
  CHECKPOINT_CACHE_CONTROL,
  ERROR_CACHE_CONTROL,
  FULL_TILE_CACHE_CONTROL,
  MAX_TILE_REQUEST_PATH,
  PARTIAL_TILE_CACHE_CONTROL,
} from '../domain/tile-rules';

const gzip = promisify(gzipCallback);

export interface TileHttpOptions {
  /** The checkpoint the log publishes (GetCheckpoint's; cosigned when it has witnesses). */
  readonly checkpoint: () => StoredCheckpoint | undefined;
  /** The stored tree: every tile and entry up to its size is served. */
  readonly head: () => Promise<LogHead>;
  readonly tiles: TileStore;
  readonly entries: (start: number, end: number) => Promise<readonly LogEntry[]>;
  readonly port: number;
  /** HTTP_BIND_HOST (default 127.0.0.1). */
  readonly host?: string;
  readonly logger: Logger;
}

interface Answer {
  readonly status: number;
  readonly body: Uint8Array | string;
  readonly cacheControl: string;
  readonly contentType?: string;
  /** Entry bundles are gzipped for clients that accept it (the spec's SHOULD). */
  readonly compressible?: boolean;
}

const refusal = (status: number, message: string): Answer => ({
  status,
  body: `${message}\n`,
  cacheControl: ERROR_CACHE_CONTROL,
});

/**
 * The log as c2sp.org/tlog-tiles over plain HTTP on localhost, read-only: `/checkpoint`
 * (the published signed note), `/tile/<L>/<N>[.p/<W>]` (the tree's hashes) and
 * `/tile/entries/<N>[.p/<W>]` (the entries' bytes, uint16-framed). Tiles come from the
 * stored tree, which only grows: a full tile never changes and is cached for good. A
 * path is read strictly (parseTilePath): anything else is 400, a tile or width beyond
 * the stored tree 404.
 */
export async function startTileHttp(options: TileHttpOptions): Promise<LoopbackHttp> {
  const server: Server = createServer((request, response) => {
    answer(request, options).then(
      (result) => send(request, response, result),
      (error: unknown) => {
        options.logger.error('tile http failed', { err: error, path: request.url?.slice(0, 200) });
        send(request, response, refusal(500, 'internal error'));
      },
    );
  });
  return listenOnLoopback(server, options.port, options.host);
}

async function answer(request: IncomingMessage, options: TileHttpOptions): Promise<Answer> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return refusal(405, 'GET or HEAD only');
  }
  const target = request.url ?? '/';
  if (target.length > MAX_TILE_REQUEST_PATH) return refusal(400, 'the path is too long');
  // The path exactly as sent: no percent-decoding or dot-segment resolution, so a path
  // means one resource only (parseTilePath refuses anything but the spec's characters).
  const path = target.split('?')[0] as string;
  if (path === '/checkpoint') return checkpoint(options);
  if (!path.startsWith('/tile/')) return refusal(404, 'not found');
  let resource: ReturnType<typeof parseTilePath>;
  try {
    resource = parseTilePath(path.slice(1));
  } catch (error) {
    if (error instanceof MalformedTileError) return refusal(400, error.message);
    throw error;
  }
  const { size } = await options.head();
  const { tile } = resource;
  const available = tileWidthInTree(tile, size);
  if (tile.width > available) {
    return refusal(404, `the tree of ${size} entries has no such tile`);
  }
  return resource.kind === 'hashes' ? hashes(tile, options) : entries(tile, options);
}

function checkpoint(options: TileHttpOptions): Answer {
  const published = options.checkpoint();
  if (!published) return refusal(503, 'the log has not published a checkpoint yet');
  return {
    status: 200,
    body: published.signedNote,
    cacheControl: CHECKPOINT_CACHE_CONTROL,
    contentType: 'text/plain; charset=utf-8',
  };
}

async function hashes(tile: SizedTile, options: TileHttpOptions): Promise<Answer> {
  const [stored] = await options.tiles.readTiles([tile]);
  const bytes = tile.width * HASH_SIZE;
  if (!stored || stored.length < bytes) {
    throw new Error(`tile ${tile.level}/${tile.index} is in the stored tree but not stored whole`);
  }
  return tileAnswer(tile, stored.subarray(0, bytes));
}

async function entries(tile: SizedTile, options: TileHttpOptions): Promise<Answer> {
  const start = tile.index * TILE_WIDTH;
  const found = await options.entries(start, start + tile.width);
  if (found.length !== tile.width) {
    // Entries the tree holds but the table no longer does (an archived partition).
    return refusal(404, `the entries from ${start} are not stored here`);
  }
  return { ...tileAnswer(tile, entryBundle(found.map((e) => e.entry))), compressible: true };
}

function tileAnswer(tile: SizedTile, body: Uint8Array): Answer {
  return {
    status: 200,
    body,
    cacheControl: tile.width === TILE_WIDTH ? FULL_TILE_CACHE_CONTROL : PARTIAL_TILE_CACHE_CONTROL,
    contentType: 'application/octet-stream',
  };
}

function send(request: IncomingMessage, response: ServerResponse, result: Answer): void {
  const headers: Record<string, string> = {
    'cache-control': result.cacheControl,
    'content-type': result.contentType ?? 'text/plain; charset=utf-8',
    'access-control-allow-origin': '*',
  };
  if (result.status === 405) headers.allow = 'GET, HEAD';
  const finish = (body: Uint8Array | string) => {
    headers['content-length'] = String(Buffer.byteLength(body));
    response.writeHead(result.status, headers);
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  if (!result.compressible) return finish(result.body);
  headers.vary = 'accept-encoding';
  if (!acceptsGzip) return finish(result.body);
  headers['content-encoding'] = 'gzip';
  gzip(result.body).then(finish, () => {
    delete headers['content-encoding'];
    finish(result.body);
  });
}
