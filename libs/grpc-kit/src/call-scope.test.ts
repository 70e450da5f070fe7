import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { openCallScope, type ScopedCall } from './call-scope';

/** A server call as grpc-js gives it: a deadline and the 'cancelled' event. */
function fakeCall(deadline: Date | number = Infinity): ScopedCall & EventEmitter {
  return Object.assign(new EventEmitter(), { getDeadline: () => deadline });
}

describe('openCallScope', () => {
  it('aborts the signal with CALLER_CANCELLED when the caller cancels a running call', () => {
    const call = fakeCall();
    const scope = openCallScope(call, 60_000);
    call.emit('cancelled');
    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toMatchObject({ code: 'ABORTED', reason: 'CALLER_CANCELLED' });
    scope.close();
  });

  it('leaves the signal alone when the stream closes after the call is over (grpc-js emits cancelled then too)', () => {
    const call = fakeCall();
    const scope = openCallScope(call, 60_000);
    scope.close();
    call.emit('cancelled');
    expect(scope.signal.aborted).toBe(false);
  });
});
