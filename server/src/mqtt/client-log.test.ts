import { describe, expect, it } from 'vitest';
import { debugEnables, MQTT_CLIENT_NAMESPACE, mqttClientLog } from './client-log.js';

describe('debugEnables', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['mqttjs:client', true],
    ['mqttjs*', true],
    ['mqttjs:*', true],
    ['*', true],
    ['express:*', false],
    ['express:*,mqttjs*', true],
    ['express:* mqttjs:client', true],
    ['*,-mqttjs*', false],
    ['-mqttjs:client,mqttjs*', false],
    ['mqttjs', false],
    ['mqttjs:clientx', false],
    ['mqtt.s:client', false],
  ])('DEBUG=%j enables mqttjs:client: %s', (value, enabled) => expect(debugEnables(value, MQTT_CLIENT_NAMESPACE)).toBe(enabled));
});

describe('mqttClientLog', () => {
  it("leaves mqtt.js's own logger when DEBUG asks for it", () => expect(mqttClientLog('mqttjs*')).toBeUndefined());

  it('ignores every call otherwise, whatever the arguments', () => {
    const log = mqttClientLog(undefined);
    expect(log).toBeTypeOf('function');
    expect((log as (...args: unknown[]) => unknown)('publish %o', { cmd: 'publish' })).toBeUndefined();
  });
});
