import { parseCosignatureVerifierKey } from '@vaxguard/tlog';
import {
  addCheckpoint,
  WitnessConflictError,
  WitnessInconsistentError,
  type AddCheckpointRequest,
} from '@vaxguard/witness';
import { WitnessConflict, WitnessRefusedFork, type Witness } from '../domain/cosigner';
import type { WitnessConfig } from '../domain/log-keeper';

/**
 * A witness over HTTP (c2sp.org/tlog-witness add-checkpoint, @vaxguard/witness's
 * client): a 409 and a 422 become the cosigner's own errors; anything else (no answer,
 * a refusal, a bad answer) is a failure the cosigner retries on its next round.
 */
export function httpWitness(config: WitnessConfig): Witness {
  return {
    name: config.name,
    verifier: parseCosignatureVerifierKey(config.verifierKey),
    async addCheckpoint(request: AddCheckpointRequest): Promise<string> {
      try {
        return await addCheckpoint(config.url, request);
      } catch (error) {
        if (error instanceof WitnessConflictError) throw new WitnessConflict(error.knownSize);
        if (error instanceof WitnessInconsistentError) {
          throw new WitnessRefusedFork(error.message, { cause: error });
        }
        throw error;
      }
    },
  };
}
