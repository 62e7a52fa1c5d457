// Guards the fan-out's write cost: a run's burst of events reached each
// subscriber as one TCP write (one writev system call) per event, because
// graphql-ws awaits every frame's write before it takes the next event. This
// socket (the WebSocket server's class for graphql-ws) holds its frames for the
// rest of the current tick and flushes them in one write, and acknowledges a
// frame at once while its buffer is under the transport's high-water mark, so
// graphql-ws goes on with the subscriber's queued events in the same tick.
// Past the mark it acknowledges only once the frame is written, as before:
// a subscriber that does not read still stops being fed, its bounded queue
// fills and it is closed as too slow (4429), with about a mark's worth of
// frames held here.
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';

type SendCallback = (error?: Error) => void;
type SendOptions = Parameters<WebSocket['send']>[1] & object;

const NO_OPTIONS: SendOptions = Object.freeze({});

/** A net socket's default high-water mark: the most this socket buffers before a frame waits for its write. */
const DEFAULT_MARK_BYTES = 16 * 1024;

export class CoalescingWebSocket extends WebSocket {
  #transport: Duplex | undefined;
  #corked = false;

  /** The upgraded TCP socket under this WebSocket (the server's `connection` request's socket). */
  coalesceWrites(transport: Duplex): void {
    this.#transport = transport;
  }

  override send(data: Parameters<WebSocket['send']>[0], optionsOrCallback?: SendOptions | SendCallback, callback?: SendCallback): void {
    const options = typeof optionsOrCallback === 'function' ? undefined : optionsOrCallback;
    const done = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback;
    const transport = this.#transport;
    if (!transport || this.readyState !== WebSocket.OPEN) {
      super.send(data, options ?? NO_OPTIONS, done);
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      transport.cork();
      // After this tick's microtasks: every frame queued meanwhile leaves in one write.
      process.nextTick(() => {
        this.#corked = false;
        transport.uncork();
      });
    }
    const mark = transport.writableHighWaterMark || DEFAULT_MARK_BYTES;
    if (done === undefined || this.bufferedAmount >= mark) {
      super.send(data, options ?? NO_OPTIONS, done);
      return;
    }
    super.send(data, options ?? NO_OPTIONS);
    queueMicrotask(done);
  }
}
