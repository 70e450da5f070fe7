// Prints the scrypt hash of a staff password read from standard input, for
// PLATFORM_ADMIN_BOOTSTRAP (`username:mobile:<hash>`): `nx run identity:hash-password`.
// The password is checked against the staff password rules; it is never printed.
import { readFileSync } from 'node:fs';
import { runMain } from '@vaxguard/runtime';
import { checkStaffPassword } from './domain/identity-rules';
import { hashStaffPassword } from './domain/staff-passwords';

runMain('identity', async () => {
  const [password = ''] = readFileSync(0, 'utf8').split(/\r?\n/);
  process.stdout.write(
    `${await hashStaffPassword(checkStaffPassword(password, { username: '' }))}\n`,
  );
});
