// The persisted-operations manifest (client/persisted-operations.json): it
// holds exactly the client package's documents (regenerate with
// `npm run persisted:build`, also run by `npm run schema:print`), each of them
// valid and within the gateway's default limits, and the package's urql
// client works unchanged against a gateway in persisted-only mode.
import { ActionDefinitionsQuery, createGatewayClient, CreateActionDefinitionMutation } from '@synapse-gateway/client/urql';
import { readFileSync } from 'node:fs';
import { parse, specifiedRules, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { printPersistedManifest } from '../client/src/urql/persisted.js';
import { parseConfig } from '../server/src/config/config.js';
import { schema } from '../server/src/graphql/schema/index.js';
import { queryLimitRules } from '../server/src/http/plugins/query-limits.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const onDisk = readFileSync(new URL('../client/persisted-operations.json', import.meta.url), 'utf8');

describe('client/persisted-operations.json', () => {
  it('matches the client documents (regenerate with `npm run persisted:build`)', () => {
    if (onDisk !== printPersistedManifest()) {
      throw new Error('client/persisted-operations.json is out of date: run `npm run persisted:build` (or `npm run schema:print`) and commit the result');
    }
  });

  it('holds only valid documents within the default limits', () => {
    const defaults = parseConfig({});
    if (!defaults.ok) throw new Error(defaults.problems.join('; '));
    const { config } = defaults;
    const rules = [
      ...specifiedRules,
      ...queryLimitRules({ maxDepth: config.SYNAPSE_MAX_DEPTH, maxAliases: config.SYNAPSE_MAX_ALIASES, maxDirectives: config.SYNAPSE_MAX_DIRECTIVES, maxTokens: config.SYNAPSE_MAX_TOKENS, maxCost: config.SYNAPSE_MAX_COST }),
    ];
    const manifest = JSON.parse(onDisk) as Record<string, string>;
    expect(Object.keys(manifest).length).toBeGreaterThanOrEqual(10);
    for (const text of Object.values(manifest)) {
      expect(validate(schema, parse(text, { maxTokens: config.SYNAPSE_MAX_TOKENS }), rules).map((e) => e.message), text.split('\n')[0]).toEqual([]);
    }
  });
});

describe('a gateway in persisted-only mode', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ SYNAPSE_PERSISTED_ONLY: 'true' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves the urql client unchanged (it sends the manifest texts byte for byte)', async () => {
    const client = createGatewayClient({ url: `${gw.url}/graphql`, webSocketImpl: WebSocket });
    try {
      const created = await client.mutation(CreateActionDefinitionMutation, { input: { title: 'persisted', kind: 'command', spec: { cmd: 'true' } } }).toPromise();
      expect(created.error).toBeUndefined();
      expect(created.data?.createActionDefinition.__typename).toBe('CreateActionDefinitionSuccess');
      const listed = await client.query(ActionDefinitionsQuery, { first: 5 }).toPromise();
      expect(listed.data?.actionDefinitions.nodes.map((n) => n.title)).toEqual(['persisted']);
      // Anything else is refused, whatever client sends it.
      const other = await client.query('{ actionDefinitions { nodes { id } } }', {}).toPromise();
      expect(other.error?.graphQLErrors.map((e) => e.extensions.code)).toEqual(['persisted_query_required']);
    } finally {
      await client.dispose();
    }
  });

  it('serves the urql client sending hashes only (persistedOperations: true)', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const recording: typeof fetch = (input, init) => {
      bodies.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(input, init);
    };
    const client = createGatewayClient({ url: `${gw.url}/graphql`, webSocketImpl: WebSocket, fetch: recording, persistedOperations: true });
    try {
      const listed = await client.query(ActionDefinitionsQuery, { first: 5 }).toPromise();
      expect(listed.error).toBeUndefined();
      expect(listed.data?.actionDefinitions.nodes.length).toBeGreaterThanOrEqual(0);
      expect(bodies[0]).not.toHaveProperty('query');
      expect(bodies[0]).toMatchObject({ operationName: 'ActionDefinitions', extensions: { persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } } });
      const manifest = JSON.parse(onDisk) as Record<string, string>;
      const hash = (bodies[0]!.extensions as { persistedQuery: { sha256Hash: string } }).persistedQuery.sha256Hash;
      expect(manifest[hash]).toContain('query ActionDefinitions(');
    } finally {
      await client.dispose();
    }
  });
});
