import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { STAFF_PASSWORD_SCRYPT, type ScryptParameters } from './identity-rules';

/**
 * Staff password hashes in the PHC string format that passlib and others read:
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64 without padding). The parameters travel
 * with each hash, so raising them later leaves existing hashes verifiable.
 */

const PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d)\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;
/** Bounds on stored parameters, so a corrupt row cannot ask for gigabytes. */
const MAX_LOG2_COST = 20;

type Cost = Pick<ScryptParameters, 'cost' | 'blockSize' | 'parallelization'>;

function derive(password: string, salt: Buffer, cost: Cost, keyLength: number): Promise<Buffer> {
  const { cost: N, blockSize: r, parallelization: p } = cost;
  // scrypt needs 128 * N * r bytes; allow twice that.
  const maxmem = 256 * N * r;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

const base64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/** Hashes a password checked by `checkStaffPassword`, with a fresh salt. */
export async function hashStaffPassword(
  password: string,
  params: ScryptParameters = STAFF_PASSWORD_SCRYPT,
): Promise<string> {
  const salt = randomBytes(params.saltLength);
  const hash = await derive(password, salt, params, params.keyLength);
  const settings = `ln=${Math.log2(params.cost)},r=${params.blockSize},p=${params.parallelization}`;
  return `$scrypt$${settings}$${base64(salt)}$${base64(hash)}`;
}

function parse(stored: string): (Cost & { salt: Buffer; hash: Buffer }) | undefined {
  const match = PHC.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, hash] = match;
  if (Number(ln) > MAX_LOG2_COST || Number(r) === 0 || Number(p) === 0) return undefined;
  return {
    cost: 2 ** Number(ln),
    blockSize: Number(r),
    parallelization: Number(p),
    salt: Buffer.from(salt!, 'base64'),
    hash: Buffer.from(hash!, 'base64'),
  };
}

/**
 * Whether a password matches a stored hash, compared in constant time. A stored value
 * that is not such a hash never matches.
 */
export async function verifyStaffPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}

/** Whether a stored hash is weaker than today's parameters and should be redone at sign-in. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return (
    !parsed ||
    parsed.cost < STAFF_PASSWORD_SCRYPT.cost ||
    parsed.blockSize < STAFF_PASSWORD_SCRYPT.blockSize ||
    parsed.parallelization < STAFF_PASSWORD_SCRYPT.parallelization
  );
}
