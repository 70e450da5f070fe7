import { fileURLToPath } from 'node:url';

/** The repository this command line is part of: the services' built tasks are here. */
export const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
