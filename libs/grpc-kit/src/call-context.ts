import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '@vaxguard/logging';
import type { Principal } from './auth';

/** What a handler knows of the call it serves, unary or streaming. */
export interface CallContext {
  /** Full method path, such as `/vaxguard.otp.v1.OtpService/GenerateOtp`. */
  readonly method: string;
  readonly principal: Principal;
  readonly metadata: Metadata;
  /** When the caller stops waiting, if it set a deadline. */
  readonly deadline: Date | undefined;
  /**
   * Aborted when the caller cancels, the deadline passes, or a lock, suspension or
   * revoked token ends the call while it runs (the refusal is the signal's reason).
   */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}
