// The shipped Mosquitto set-up (docs/mosquitto/mosquitto.conf and acl) on a
// private Mosquitto: the shared rows (helpers/mqtt-acl.ts). The password file is
// built as docs/security.md says: mosquitto_passwd for the gateway's user, the
// mosquittoPasswordLine of createAgentCredential for each Axon, then a reload.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestGateway } from './helpers/gateway.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { type CreatedCredential, describeMqttAcl, sleep } from './helpers/mqtt-acl.js';

const run = promisify(execFile);
const docs = (name: string) => readFile(new URL(`../docs/mosquitto/${name}`, import.meta.url), 'utf8');

/** The shipped configuration with this test's port and scratch paths; fails if the documented lines moved. */
function localise(conf: string): string {
  const swaps: Array<[RegExp, string]> = [
    [/^listener 1883 127\.0\.0\.1$/m, 'listener {{PORT}} 127.0.0.1'],
    [/^persistence_location .*$/m, 'persistence_location {{DIR}}/'],
    [/^password_file .*$/m, 'password_file {{DIR}}/synapse.passwd'],
    [/^acl_file .*$/m, 'acl_file {{DIR}}/synapse.acl'],
  ];
  for (const [line, replacement] of swaps) {
    if (!line.test(conf)) throw new Error(`docs/mosquitto/mosquitto.conf no longer has ${line}`);
    conf = conf.replace(line, replacement);
  }
  return `${conf}\nlog_dest file {{DIR}}/mosquitto.log\n`;
}

describeMqttAcl('Mosquitto with the shipped configuration', async () => {
  const gatewayPassword = randomBytes(24).toString('base64url');
  const mosquitto = await startMosquitto({
    config: localise(await docs('mosquitto.conf')),
    files: { 'synapse.acl': await docs('acl'), 'synapse.passwd': '' },
  });
  const passwd = path.join(mosquitto.dir, 'synapse.passwd');
  await run('mosquitto_passwd', ['-b', passwd, 'synapse-gateway', gatewayPassword]);
  // Mosquitto drops root for its own user, which must read the file.
  await chmod(passwd, 0o644);
  const reload = async () => {
    mosquitto.reload();
    await sleep(300);
  };
  await reload();
  const lines = new Map<string, string>();
  const write = async () => {
    const gatewayLine = (await readFile(passwd, 'utf8')).split('\n').find((l) => l.startsWith('synapse-gateway:'))!;
    await writeFile(passwd, [gatewayLine, ...lines.values()].join('\n') + '\n');
    await reload();
  };
  const key = randomBytes(32).toString('base64url');
  const gw = await startTestGateway({
    MQTT_URL: mosquitto.url,
    MQTT_TOPIC_PREFIX: 'synapse/v1',
    MQTT_USERNAME: 'synapse-gateway',
    MQTT_PASSWORD: gatewayPassword,
    SYNAPSE_BOOTSTRAP_ADMIN_KEY: key,
  });
  return {
    kind: 'mosquitto',
    gw,
    key,
    brokerUrl: mosquitto.url,
    async register(created: CreatedCredential[]) {
      for (const c of created) lines.set(c.serviceId, c.mosquittoPasswordLine);
      await write();
    },
    async unregister(created: CreatedCredential) {
      lines.delete(created.serviceId);
      await write();
    },
    async close() {
      await gw.close();
      await mosquitto.close();
    },
  };
});
