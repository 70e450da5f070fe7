import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_FORMAT,
  BackupProblem,
  DUMP_ORDER,
  fileDigest,
  mismatchedFiles,
  parseManifest,
  type BackupManifest,
} from './backup-manifest';
import { unreachablePlatform, vaxguard } from './test-support';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A backup folder with a file per database and the registry, and its manifest. */
function backupFolder(): { dir: string; manifest: BackupManifest } {
  const dir = mkdtempSync(join(tmpdir(), 'vaxguard-backup-test-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return { file: name, sha256: sha256(content), bytes: Buffer.byteLength(content) };
  };
  const at = '2026-12-07T10:00:00.000Z';
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    startedAt: at,
    finishedAt: at,
    pgDump: 'pg_dump (PostgreSQL) 15.18',
    databases: DUMP_ORDER.map((service) => ({
      service,
      database: `vg_${service.replace('-', '_')}`,
      ...file(`${service}.dump`, `the dump of ${service}`),
      startedAt: at,
      finishedAt: at,
    })),
    accessRegistry: {
      topic: 'vaxguard.identity.access-registry',
      records: 1,
      ...file('access-registry.jsonl', '{"partition":0}\n'),
    },
    auditLog: {
      ...file('audit-checkpoint.note', 'audit.test\n12\ncm9vdA==\n\n— audit.test AAAA\n'),
      origin: 'audit.test',
      verifierKey: 'audit.test+00000000+AAAA',
      size: 12,
      rootHash: 'cm9vdA==',
      signedCheckpoint: 'audit.test\n12\ncm9vdA==\n\n— audit.test AAAA\n',
      halted: false,
    },
    notIncluded: ['secrets'],
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return { dir, manifest };
}

const withField = (manifest: BackupManifest, change: (json: Record<string, unknown>) => void) => {
  const json = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
  change(json);
  return JSON.stringify(json);
};

describe('the backup manifest', () => {
  it('reads back what a backup wrote', () => {
    const { manifest } = backupFolder();
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it('dumps every consumer before the services whose events it consumes', () => {
    expect(DUMP_ORDER.indexOf('audit')).toBe(0);
    expect(DUMP_ORDER.indexOf('vaccination-record')).toBeLessThan(DUMP_ORDER.indexOf('identity'));
    expect([...DUMP_ORDER].sort()).toEqual(['audit', 'identity', 'otp', 'vaccination-record']);
  });

  it('refuses what is not a manifest of this format, naming the field', () => {
    const { manifest } = backupFolder();
    expect(() => parseManifest('{')).toThrow(BackupProblem);
    expect(() =>
      parseManifest(withField(manifest, (json) => (json['format'] = 'other/1'))),
    ).toThrow(/not a vaxguard-backup\/1 manifest/);
    expect(() => parseManifest(withField(manifest, (json) => (json['databases'] = [])))).toThrow(
      'the manifest has no dump of identity, otp, vaccination-record, audit',
    );
    expect(() =>
      parseManifest(
        withField(manifest, (json) => {
          (json['auditLog'] as Record<string, unknown>)['size'] = -1;
        }),
      ),
    ).toThrow('manifest.auditLog.size is not a tree size');
  });

  it('refuses a file name that is a path, so a restore reads only inside its folder', () => {
    const { manifest } = backupFolder();
    for (const name of ['../etc/passwd.dump', '/tmp/x.dump', 'sub/identity.dump', 'x.sql']) {
      expect(() =>
        parseManifest(
          withField(manifest, (json) => {
            (json['databases'] as Record<string, unknown>[])[1]!['file'] = name;
          }),
        ),
      ).toThrow('manifest.databases[1].file is not a plain file name');
    }
  });

  it('refuses a service named twice', () => {
    const { manifest } = backupFolder();
    expect(() =>
      parseManifest(
        withField(manifest, (json) => {
          const databases = json['databases'] as unknown[];
          databases.push(databases[0]);
        }),
      ),
    ).toThrow('names a service twice');
  });
});

describe('a backup folder checked against its manifest', () => {
  it('matches when nothing changed', async () => {
    const { dir, manifest } = backupFolder();
    expect(await mismatchedFiles(manifest, dir)).toEqual([]);
  });

  it('names a changed dump (same size, other bytes) and a missing file', async () => {
    const { dir, manifest } = backupFolder();
    writeFileSync(join(dir, 'identity.dump'), 'the dump of IDENTITY');
    writeFileSync(join(dir, 'access-registry.jsonl'), '');
    rmSync(join(dir, 'otp.dump'));
    const problems = await mismatchedFiles(manifest, dir);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(
      `identity.dump is not the file the backup wrote: SHA-256 ${sha256('the dump of IDENTITY')} (20 bytes), the manifest says ${sha256('the dump of identity')} (20 bytes)`,
    );
    expect(problems[1]).toBe('otp.dump is missing');
    expect(problems[2]).toMatch(/^access-registry.jsonl is not the file the backup wrote/);
  });

  it('hashes a file as sha256sum does', async () => {
    const { dir } = backupFolder();
    expect(await fileDigest(join(dir, 'otp.dump'))).toEqual({
      sha256: sha256('the dump of otp'),
      bytes: 15,
    });
  });
});

describe('vaxguard backup and restore, before they reach a platform', () => {
  const { dir: platformDir } = backupFolder();
  /** A description whose services are nowhere, of another audit log: runs stop before them. */
  const platformFile = unreachablePlatform(platformDir, {
    origin: 'audit.other',
    verifierKey: 'audit.other+00000000+AAAA',
  });
  const run = (...argv: string[]) => vaxguard(['--platform', platformFile, ...argv]);

  it('backup refuses a folder that holds anything (exit 2)', async () => {
    const { dir } = backupFolder();
    const { exitCode, stderr } = await run('backup', dir);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('is not empty: back up into a new folder');
  });

  it('restore refuses a folder without a manifest (exit 2)', async () => {
    const { exitCode, stderr } = await run('restore', mkdtempSync(join(tmpdir(), 'vg-empty-')));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('no manifest.json in');
  });

  it('restore refuses a tampered dump before touching anything, naming it (exit 1)', async () => {
    const { dir } = backupFolder();
    writeFileSync(join(dir, 'audit.dump'), 'the dump of AUDIT');
    const { exitCode, stderr } = await run('restore', dir);
    expect(exitCode).toBe(1);
    expect(stderr).toContain('refusing to restore:');
    expect(stderr).toContain('does not match its manifest');
    expect(stderr).toContain('audit.dump is not the file the backup wrote');
  });

  it('restore refuses a damaged manifest (exit 1)', async () => {
    const { dir, manifest } = backupFolder();
    writeFileSync(
      join(dir, 'manifest.json'),
      withField(manifest, (json) => delete json['auditLog']),
    );
    const { exitCode, stderr } = await run('restore', dir);
    expect(exitCode).toBe(1);
    expect(stderr).toContain('refusing to restore: manifest.auditLog is not an object');
  });

  it("restore refuses another audit log's backup: the platform must have the same secrets", async () => {
    const { dir } = backupFolder();
    const { exitCode, stderr } = await run('restore', dir);
    expect(exitCode).toBe(1);
    expect(stderr).toContain(
      "the backup's audit log is audit.test (key audit.test+00000000+AAAA), this platform's is audit.other",
    );
  });

  it('backup --help says what a backup holds and what to keep apart', async () => {
    const { exitCode, stdout } = await vaxguard(['backup', '--help']);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("A backup holds every service's database");
    expect(stdout).toContain('Not in a backup, to keep apart');
    expect(stdout).toContain('AUDIT_STATE_DIR');
    expect(stdout).toContain("the platform's secrets");
  });
});
