// Two connected in-memory streams: what one side writes, the other reads. The
// gateway's own MQTT client talks to the embedded broker through such a pair
// instead of a loopback socket: no system calls, no wake-ups, no copies, for
// every command it publishes and every acknowledgement it gets back.
import { Duplex } from 'node:stream';

class Half extends Duplex {
  peer: Half | undefined;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed) return callback(new Error('the other end of the in-process stream is closed'));
    // On the next tick, never inside the writer's call: neither end expects a
    // reply before its write returns. Ticks keep the order of writes.
    process.nextTick(() => peer.push(chunk));
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer) process.nextTick(() => peer.push(null));
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = undefined;
    if (peer && !peer.destroyed) process.nextTick(() => peer.destroy());
    callback(error);
  }
}

/** A connected pair of duplex streams (Node 22's `duplexPair`, which Node 20 lacks). */
export function inProcessPair(): [Duplex, Duplex] {
  const a = new Half();
  const b = new Half();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
