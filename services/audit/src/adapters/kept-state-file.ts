import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Halt, KeptCheckpoint, KeptState, KeptStateStore } from '../domain/log-keeper';

/** The file in AUDIT_STATE_DIR; its temporary twin is renamed over it. */
export const KEPT_STATE_FILE = 'audit-log.kept.json';

interface CheckpointJson {
  size: number;
  rootHash: string;
  signedNote: string;
  at: string;
}

interface StateJson {
  version: 1;
  signed?: CheckpointJson;
  cosigned?: CheckpointJson;
  witnessSizes: Record<string, number>;
  pendingSince?: string;
  halt?: Omit<Halt, 'at'> & { at: string };
}

const toJson = (checkpoint: KeptCheckpoint): CheckpointJson => ({
  size: checkpoint.size,
  rootHash: Buffer.from(checkpoint.rootHash).toString('base64'),
  signedNote: checkpoint.signedNote,
  at: checkpoint.at.toISOString(),
});

const fromJson = (json: CheckpointJson): KeptCheckpoint => ({
  size: json.size,
  rootHash: Buffer.from(json.rootHash, 'base64'),
  signedNote: json.signedNote,
  at: new Date(json.at),
});

/**
 * The kept state as one JSON file outside the database. Each save writes a temporary
 * file, syncs it, renames it over the old one and syncs the directory, so a crash
 * leaves the old state or the new one, never half of either.
 */
export class KeptStateFile implements KeptStateStore {
  private readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, KEPT_STATE_FILE);
  }

  async load(): Promise<KeptState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const json = JSON.parse(text) as StateJson;
    if (json.version !== 1)
      throw new Error(`${this.path}: unknown version ${String(json.version)}`);
    return {
      signed: json.signed && fromJson(json.signed),
      cosigned: json.cosigned && fromJson(json.cosigned),
      witnessSizes: json.witnessSizes,
      pendingSince: json.pendingSince === undefined ? undefined : new Date(json.pendingSince),
      halt: json.halt && { ...json.halt, at: new Date(json.halt.at) },
    };
  }

  async save(state: KeptState): Promise<void> {
    const json: StateJson = {
      version: 1,
      ...(state.signed ? { signed: toJson(state.signed) } : {}),
      ...(state.cosigned ? { cosigned: toJson(state.cosigned) } : {}),
      witnessSizes: { ...state.witnessSizes },
      ...(state.pendingSince ? { pendingSince: state.pendingSince.toISOString() } : {}),
      ...(state.halt ? { halt: { ...state.halt, at: state.halt.at.toISOString() } } : {}),
    };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(json, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
