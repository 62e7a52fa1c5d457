import { describe, expect, it } from 'vitest';
import { parseConfig, redactUrl } from './config.js';

describe('parseConfig', () => {
  it('documents its defaults', () => {
    const result = parseConfig({});
    expect(result).toMatchObject({
      ok: true,
      config: { PORT: 4000, HOST: '127.0.0.1', SYNAPSE_DATA_DIR: '.synapse', MQTT_PORT: 1883, MQTT_TOPIC_PREFIX: 'synapse/v1', LOG_LEVEL: 'info', SYNAPSE_PROMPT_MODEL: 'gpt-5.3-codex', SYNAPSE_GRAPHIQL: true },
    });
    expect(result.ok && result.config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    { env: { PORT: '-1' }, problem: /^PORT accepts a port number/ },
    { env: { MQTT_PORT: 'x' }, problem: /^MQTT_PORT accepts a port number/ },
    { env: { MQTT_TOPIC_PREFIX: 'a/+/b' }, problem: /^MQTT_TOPIC_PREFIX accepts topic levels/ },
    { env: { MQTT_URL: 'http://broker' }, problem: /^MQTT_URL accepts a URL starting with mqtt:/ },
    { env: { STEPFLOW_EVENTS_URL: 'ftp://x' }, problem: /^STEPFLOW_EVENTS_URL accepts a URL starting with http:/ },
    { env: { SYNAPSE_DB_POOL_SIZE: '0' }, problem: /^SYNAPSE_DB_POOL_SIZE accepts a whole number 1\.\.200/ },
    { env: { SYNAPSE_TRIGGER_RATE_PER_IP: '-1' }, problem: /^SYNAPSE_TRIGGER_RATE_PER_IP accepts a number 0\.\.1000000 \(per second; 0 turns the limit off\)/ },
    { env: { SYNAPSE_MAX_DEPTH: '0' }, problem: /^SYNAPSE_MAX_DEPTH accepts a whole number 1\.\.1000/ },
    { env: { SYNAPSE_PERSISTED_ONLY: 'maybe' }, problem: /^SYNAPSE_PERSISTED_ONLY accepts true or false/ },
  ])('names the variable: $env', ({ env, problem }) => {
    const result = parseConfig(env);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatch(problem);
  });

  it('documents the hardening defaults (docs/security.md)', () => {
    expect(parseConfig({})).toMatchObject({
      ok: true,
      config: {
        SYNAPSE_INTROSPECTION: true,
        SYNAPSE_PERSISTED_ONLY: false,
        SYNAPSE_MAX_DEPTH: 12,
        SYNAPSE_MAX_ALIASES: 30,
        SYNAPSE_MAX_DIRECTIVES: 50,
        SYNAPSE_MAX_TOKENS: 5_000,
        SYNAPSE_MAX_COST: 20_000,
        SYNAPSE_TRIGGER_RATE_PER_IP: 50,
        SYNAPSE_TRIGGER_BURST_PER_IP: 500,
        SYNAPSE_TRIGGER_RATE_PER_KEY: 50,
        SYNAPSE_TRIGGER_BURST_PER_KEY: 500,
        SYNAPSE_WS_MAX_CONNECTIONS_PER_IP: 256,
        SYNAPSE_WS_KEEPALIVE_MS: 12_000,
      },
    });
    expect(parseConfig({ SYNAPSE_TRIGGER_RATE_PER_IP: '0.5' })).toMatchObject({ ok: true, config: { SYNAPSE_TRIGGER_RATE_PER_IP: 0.5 } });
  });

  it('treats an empty DATABASE_URL as unset and reads booleans', () => {
    expect(parseConfig({ DATABASE_URL: '', SYNAPSE_GRAPHIQL: 'false' })).toMatchObject({ ok: true, config: { DATABASE_URL: undefined, SYNAPSE_GRAPHIQL: false } });
  });

  it('reports every problem at once', () => {
    const result = parseConfig({ PORT: 'x', LOG_LEVEL: 'y' });
    expect(result.ok ? [] : result.problems).toHaveLength(2);
  });
});

describe('redactUrl', () => {
  it.each([
    ['postgres://u:secret@h/db', 'postgres://***@h/db'],
    ['postgres://u:secret@[broken', 'postgres://***@[broken'],
    ['mqtt://broker:1883', 'mqtt://broker:1883'],
  ])('%s → %s', (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});
