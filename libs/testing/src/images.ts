import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BUILD_SCRIPT = fileURLToPath(new URL('../../../tools/images/build.sh', import.meta.url));

export type LocalImage = 'postgres' | 'kafka';

const built = new Map<LocalImage, Promise<string>>();

/**
 * The reference of a locally built image. There is no image registry here, so
 * tools/images/build.sh builds it from Debian packages and Maven jars; when its inputs
 * are unchanged the existing image is reused in well under a second.
 */
export function ensureImage(image: LocalImage): Promise<string> {
  let pending = built.get(image);
  if (!pending) {
    pending = run('bash', [BUILD_SCRIPT, image], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 20 * 60_000,
    }).then(({ stdout }) => {
      const ref = stdout.trim().split('\n').pop();
      if (!ref) throw new Error(`tools/images/build.sh ${image} printed no image reference`);
      return ref;
    });
    built.set(image, pending);
    pending.catch(() => built.delete(image));
  }
  return pending;
}
