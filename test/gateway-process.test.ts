// The gateway as a process: start-up, configuration errors, a taken port,
// graceful shutdown on SIGTERM and SIGINT.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { messagingEnv } from './helpers/gateway.js';
import { freePort, spawnGateway } from './helpers/process.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase({ onDisk: true });
});
afterAll(async () => {
  await db?.drop();
});

const dbEnv = () => ({ ...(db.url ? { DATABASE_URL: db.url } : { SYNAPSE_DATA_DIR: db.dataDir }), ...messagingEnv() });

describe('configuration errors stop start-up with the variable named', () => {
  it.each([
    { env: { PORT: 'eighty' }, says: /PORT accepts a port number 0\.\.65535 \(got "eighty"\)/ },
    { env: { PORT: '70000' }, says: /PORT accepts a port number/ },
    { env: { LOG_LEVEL: 'loud' }, says: /LOG_LEVEL accepts fatal, error, warn, info, debug, trace or silent/ },
    { env: { DATABASE_URL: 'mysql://x' }, says: /DATABASE_URL accepts a URL starting with postgres:\/\/ or postgresql:\/\// },
    { env: { SYNAPSE_GRAPHIQL: 'maybe' }, says: /SYNAPSE_GRAPHIQL accepts true or false/ },
    { env: { DATABASE_URL: 'postgres://user:hunter2@[bad' }, says: /DATABASE_URL accepts a URL/ },
  ])('$env', async ({ env, says }) => {
    const gateway = spawnGateway({ LOG_LEVEL: 'info', ...env });
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toMatch(says);
    expect(gateway.output()).toContain('docs/operations.md');
    expect(gateway.output()).not.toContain('hunter2');
  });
});

describe('a running gateway process', () => {
  it('starts, answers its first query, and stops cleanly on SIGTERM with a request in flight', async () => {
    const port = await freePort();
    const started = performance.now();
    const gateway = spawnGateway({ PORT: String(port), LOG_LEVEL: 'info', ...dbEnv() });
    await gateway.waitFor(/GraphiQL: +http:\/\/127\.0\.0\.1:\d+\/graphql/);
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ actionDefinitions { nodes { id } } }' }),
    });
    expect(res.status).toBe(200);
    const firstAnswerMs = performance.now() - started;
    expect(firstAnswerMs).toBeGreaterThan(0);

    // A request whose body is still arriving when the signal comes must complete.
    const slow = fetch(`http://127.0.0.1:${port}/api/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"title":"in flight","kind":"prompt",'));
          await new Promise((r) => setTimeout(r, 400));
          controller.enqueue(new TextEncoder().encode('"spec":{"prompt":"x"}}'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    await new Promise((r) => setTimeout(r, 100));
    gateway.child.kill('SIGTERM');
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { action: { title: string } }).action.title).toBe('in flight');
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).toContain('"msg":"stopped"');
  });

  it('keeps its data across restarts and stops on SIGINT', async () => {
    const port = await freePort();
    const gateway = spawnGateway({ PORT: String(port), LOG_LEVEL: 'warn', ...dbEnv() });
    await gateway.waitFor(/GraphiQL:/);
    const res = await fetch(`http://127.0.0.1:${port}/api/actions`);
    const body = (await res.json()) as { actions: Array<{ title: string }> };
    expect(body.actions.map((a) => a.title)).toContain('in flight');
    gateway.child.kill('SIGINT');
    expect(await gateway.exited).toBe(0);
  });

  it('says clearly when its port is taken', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    const gateway = spawnGateway({ PORT: String(port), LOG_LEVEL: 'info', ...dbEnv() });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain(`port ${port} on 127.0.0.1 is in use: stop the other process or set PORT`);
    blocker.close();
  });
});
