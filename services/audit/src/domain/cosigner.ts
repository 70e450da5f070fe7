import {
  readConsistencyProof,
  verifyCosignatures,
  type NodeHashReader,
  type NoteVerifier,
} from '@vaxguard/tlog';
import type { KeptCheckpoint, LogKeeper } from './log-keeper';
import type { Clock } from './model';

/**
 * Witness cosigning (c2sp.org/tlog-witness): the newest kept checkpoint is submitted,
 * with the consistency proof from the size each witness last cosigned, to every
 * witness; once every one has cosigned it, the note with their cosignature lines is
 * what the log publishes as current.
 */

/** A witness as the cosigner sees it (an adapter speaks its HTTP API). */
export interface Witness {
  readonly name: string;
  /** Its cosignature verifier key: each answer is checked before it is kept. */
  readonly verifier: NoteVerifier;
  /** Submits a checkpoint; resolves to the witness's cosignature line(s). */
  addCheckpoint(request: {
    readonly oldSize: number;
    readonly consistencyProof: readonly Uint8Array[];
    readonly checkpoint: string;
  }): Promise<string>;
}

/** The witness holds a checkpoint of another size than the request said (HTTP 409). */
export class WitnessConflict extends Error {
  override readonly name = 'WitnessConflict';
  constructor(readonly witnessSize: number) {
    super(`the witness holds a checkpoint of size ${witnessSize}`);
  }
}

/** The witness found the checkpoint inconsistent with one it cosigned (HTTP 422): a fork. */
export class WitnessRefusedFork extends Error {
  override readonly name = 'WitnessRefusedFork';
}

export type CosignOutcome =
  | { readonly kind: 'NOTHING_TO_COSIGN' }
  | { readonly kind: 'COSIGNED'; readonly size: number }
  | { readonly kind: 'WAITING'; readonly failures: readonly WitnessFailure[] }
  | { readonly kind: 'HALTED' };

export interface WitnessFailure {
  readonly witness: string;
  readonly error: unknown;
}

export class Cosigner {
  constructor(
    private readonly options: {
      readonly keeper: LogKeeper;
      readonly witnesses: readonly Witness[];
      readonly clock: Clock;
    },
  ) {}

  /** One round: the newest kept checkpoint to every witness, unless all hold it already. */
  async cosign(nodes: NodeHashReader): Promise<CosignOutcome> {
    const { keeper, witnesses } = this.options;
    const { signed, cosigned, halt } = keeper.state;
    if (halt) return { kind: 'HALTED' };
    if (!signed?.signedNote || (cosigned && cosigned.size >= signed.size)) {
      return { kind: 'NOTHING_TO_COSIGN' };
    }
    const lines: string[] = [];
    const failures: WitnessFailure[] = [];
    const sizes: Record<string, number> = {};
    for (const witness of witnesses) {
      const result = await this.submit(witness, signed, nodes);
      if (result.kind === 'HALTED') return { kind: 'HALTED' };
      if (result.kind === 'COSIGNED') {
        lines.push(result.lines);
        sizes[witness.name] = signed.size;
      } else {
        failures.push(result.failure);
      }
    }
    if (failures.length > 0) {
      await keeper.witnessesHold(sizes);
      return { kind: 'WAITING', failures };
    }
    await keeper.cosigned(
      { ...signed, signedNote: signed.signedNote + lines.join(''), at: this.options.clock() },
      sizes,
    );
    return { kind: 'COSIGNED', size: signed.size };
  }

  private async submit(
    witness: Witness,
    checkpoint: KeptCheckpoint,
    nodes: NodeHashReader,
    retried = false,
  ): Promise<
    | { kind: 'COSIGNED'; lines: string }
    | { kind: 'FAILED'; failure: WitnessFailure }
    | { kind: 'HALTED' }
  > {
    const { keeper } = this.options;
    const oldSize = keeper.state.witnessSizes[witness.name] ?? 0;
    if (oldSize > checkpoint.size) {
      await keeper.haltWith(
        'WITNESS_AHEAD',
        `the witness ${witness.name} cosigned a checkpoint of ${oldSize} entries, more than the ${checkpoint.size} the log kept`,
        checkpoint.size,
      );
      return { kind: 'HALTED' };
    }
    try {
      const consistencyProof =
        oldSize === 0 || oldSize === checkpoint.size
          ? []
          : await readConsistencyProof(nodes, oldSize, checkpoint.size);
      const answer = await witness.addCheckpoint({
        oldSize,
        consistencyProof,
        checkpoint: checkpoint.signedNote,
      });
      const lines = answer.endsWith('\n') ? answer : `${answer}\n`;
      // Only a line that verifies with the witness's key, on this very checkpoint, is kept.
      verifyCosignatures(checkpoint.signedNote + lines, [witness.verifier]);
      return { kind: 'COSIGNED', lines };
    } catch (error) {
      if (error instanceof WitnessConflict && !retried) {
        await keeper.witnessesHold({ [witness.name]: error.witnessSize });
        return this.submit(witness, checkpoint, nodes, true);
      }
      if (error instanceof WitnessRefusedFork) {
        await keeper.haltWith(
          'WITNESS_REFUSED',
          `the witness ${witness.name} refused the checkpoint of ${checkpoint.size} entries as inconsistent with one it cosigned`,
          checkpoint.size,
        );
        return { kind: 'HALTED' };
      }
      return { kind: 'FAILED', failure: { witness: witness.name, error } };
    }
  }
}
