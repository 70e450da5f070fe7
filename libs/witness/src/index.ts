// Witness cosigning of the audit log's checkpoints (c2sp.org/tlog-witness and
// c2sp.org/tlog-cosignature), and a real witness to run beside the platform.
//
// The audit service, for each new checkpoint:
//
//   import { addCheckpoint, verifyWitnessCosignature, WitnessConflictError } from '@vaxguard/witness';
//
//   // oldSize: the size this witness last cosigned (0 the first time); the proof from
//   // there (libs/tlog readConsistencyProof; empty from 0 or for an unchanged size).
//   try {
//     const lines = await addCheckpoint(witness.url, { oldSize, consistencyProof, checkpoint });
//     const { timestamp } = verifyWitnessCosignature(checkpoint, lines, witness.verifierKey);
//     publish(`${checkpoint}${lines}`); // the cosigned checkpoint: signed note + cosignature lines
//   } catch (error) {
//     if (error instanceof WitnessConflictError) {
//       // The witness is at error.knownSize: resubmit from there with a proof from
//       // error.knownSize; a knownSize above the log's own size means a rollback.
//     }
//     // WitnessInconsistentError (422): the proof does not hold, a fork or rollback.
//     // WitnessRefusedError (403/404): unknown origin or the log's key not trusted.
//     // WitnessUnreachableError: no answer; keep appending, retry later.
//   }
//
// Tests and npm start run one witness (the binaries come from
// `bash tools/dev/ensure-prereqs.sh witness`):
//
//   await using witness = await startWitness({ dir, logs: [{ origin, verifierKey }] });
//   // witness.url, witness.name, witness.verifierKey (cosignature/v1 vkey)
export * from './errors';
export * from './add-checkpoint';
export * from './litewitness';
export { parseSshEd25519PublicKey, witnessVerifierKey } from './ssh-key';
