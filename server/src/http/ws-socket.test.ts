import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CoalescingWebSocket } from './ws-socket.js';

interface Pair {
  server: CoalescingWebSocket;
  client: WebSocket;
  /** Chunks per write of the server's TCP socket (one entry per write). */
  writes: number[];
  received: string[];
}

let http: Server | undefined;
let wss: { clients: Set<WebSocket>; close(cb: () => void): void } | undefined;
afterEach(async () => {
  for (const socket of wss?.clients ?? []) socket.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  http = undefined;
  wss = undefined;
});

async function pair(): Promise<Pair> {
  http = createServer();
  const server = new WebSocketServer({ server: http, WebSocket: CoalescingWebSocket });
  wss = server;
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const writes: number[] = [];
  const accepted = new Promise<CoalescingWebSocket>((resolve) =>
    server.once('connection', (socket, request) => {
      const transport = request.socket as Socket & { _writev: (chunks: unknown[], cb: () => void) => void; _write: (chunk: unknown, enc: string, cb: () => void) => void };
      const writev = transport._writev.bind(transport);
      const write = transport._write.bind(transport);
      transport._writev = (chunks, cb) => {
        writes.push(chunks.length);
        writev(chunks, cb);
      };
      transport._write = (chunk, enc, cb) => {
        writes.push(1);
        write(chunk, enc, cb);
      };
      socket.coalesceWrites(transport);
      resolve(socket);
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  return { server: await accepted, client, writes, received };
}

const until = async (check: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('CoalescingWebSocket', () => {
  it('sends the frames of one tick in one write, in order, and acknowledges each', async () => {
    const { server, writes, received } = await pair();
    const acknowledged: number[] = [];
    for (let i = 0; i < 50; i++) server.send(`frame ${i}`, (error) => !error && acknowledged.push(i));
    await until(() => received.length === 50);
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `frame ${i}`));
    expect(acknowledged).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(writes).toHaveLength(1);
  });

  it('acknowledges a frame past the high-water mark only once written: a peer that does not read holds them back', async () => {
    const { server, client, received } = await pair();
    client.pause();
    const big = 'x'.repeat(1024 * 1024);
    const acknowledged: number[] = [];
    // 32 MiB: more than loopback's socket buffers hold, so writes stay pending.
    for (let i = 0; i < 32; i++) {
      server.send(big, (error) => !error && acknowledged.push(i));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(acknowledged.length).toBeLessThan(32);
    expect(server.bufferedAmount).toBeGreaterThan(1024 * 1024);
    client.resume();
    await until(() => acknowledged.length === 32 && received.length === 32, 20_000);
    expect(acknowledged).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it('takes send options as ws does', async () => {
    const { server, received } = await pair();
    let acknowledged = false;
    server.send(Buffer.from('binary'), { binary: true }, (error) => {
      acknowledged = !error;
    });
    await until(() => received.length === 1 && acknowledged);
    expect(received).toEqual(['binary']);
  });
});
