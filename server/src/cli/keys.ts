// `synapse keys …`: manage API keys straight in the gateway's database, for the
// first key before any exists (the gateway refuses to listen beyond loopback
// without one) and for recovery. Reads DATABASE_URL / SYNAPSE_DATA_DIR like the
// gateway. With the embedded database, stop the gateway first: PGlite is
// single-process.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createAuditLog } from '../audit/audit.js';
import { createKeyStore } from '../auth/keys.js';
import { SCOPES } from '../auth/scopes.js';
import { parseConfig } from '../config/config.js';
import { openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { createUuidv7Generator } from '../protocol/index.js';

export interface KeysIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

export const KEYS_USAGE = `Usage: synapse keys <create|list|revoke> [options]

  synapse keys create --name <name> [--scopes all|s1,s2] [--tenant <t>] [--expires-in <N>d|h|m]
      Creates a key and prints its secret once (default scopes: all; default tenant: SYNAPSE_DEFAULT_TENANT).
  synapse keys list [--tenant <t>]
  synapse keys revoke <id> [--tenant <t>]

Scopes: ${SCOPES.join(', ')}.
Works on the database named by DATABASE_URL, else the embedded one in SYNAPSE_DATA_DIR (.synapse/);
stop the gateway first when it uses the embedded database.
`;

const DURATION = /^([1-9][0-9]{0,5})([dhm])$/;
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** Exit code: 0 done, 2 usage, 3 refused or failed. */
export async function keysCommand(argv: string[], io: KeysIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h' || !['create', 'list', 'revoke'].includes(action)) {
    (action === undefined || action.startsWith('-') ? io.stdout : io.stderr).write(action === undefined || action.startsWith('-') ? KEYS_USAGE : `synapse keys: unknown action ${JSON.stringify(action)}\n${KEYS_USAGE}`);
    return action === '--help' || action === '-h' ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string', default: 'all' }, tenant: { type: 'string' }, 'expires-in': { type: 'string' } },
  });
  const parsed = parseConfig(io.env);
  if (!parsed.ok) {
    io.stderr.write(`synapse keys: invalid configuration\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 2;
  }
  const config = parsed.config;
  const tenant = values.tenant ?? config.SYNAPSE_DEFAULT_TENANT;
  let expiresAt: Date | null = null;
  if (values['expires-in'] !== undefined) {
    const match = DURATION.exec(values['expires-in']);
    if (!match) {
      io.stderr.write('synapse keys: --expires-in takes a number and d, h or m, e.g. 90d\n');
      return 2;
    }
    expiresAt = new Date(Date.now() + Number(match[1]) * UNIT_MS[match[2]!]!);
  }
  if (action === 'create' && !values.name) {
    io.stderr.write('synapse keys create: --name is required (what the key is for, e.g. --name ci-deployer)\n');
    return 2;
  }
  if (action === 'revoke' && positionals.length !== 1) {
    io.stderr.write('synapse keys revoke: give the key id (see synapse keys list)\n');
    return 2;
  }

  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.SYNAPSE_DATA_DIR, poolSize: 1 });
  try {
    await migrate(database.db);
    const newId = createUuidv7Generator(Date.now, (n) => randomBytes(n));
    const keys = createKeyStore({ db: database.db, newId, random: (n) => randomBytes(n), now: Date.now });
    const audit = createAuditLog(database.db);
    if (action === 'create') {
      const created = await keys.create({ name: values.name!, tenant, scopes: values.scopes!.split(','), expiresAt });
      if (!created.ok) {
        io.stderr.write(`synapse keys create: ${created.error.message}\n`);
        return 2;
      }
      await audit.record({ tenant, actor: 'system', action: 'api_key.create', target: created.value.key.id, detail: { name: created.value.key.name, scopes: created.value.key.scopes, via: 'cli' } });
      const { key, secret } = created.value;
      io.stderr.write(`Created key ${key.id} (${key.name}) for tenant ${key.tenant} with scopes ${key.scopes.join(', ')}${key.expiresAt ? `, expiring ${key.expiresAt.toISOString()}` : ''}.\nThe secret follows on standard output; it is shown only now. Send it as "Authorization: Bearer <secret>".\n`);
      io.stdout.write(`${secret}\n`);
      return 0;
    }
    if (action === 'list') {
      for (const key of await keys.list(tenant)) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : key.expiresAt ? `expires ${key.expiresAt.toISOString()}` : 'active';
        io.stdout.write(`${key.id}\t${key.name}\t${key.scopes.join(',')}\t${state}\n`);
      }
      return 0;
    }
    const revoked = await keys.revoke(positionals[0]!, tenant);
    if (!revoked.ok) {
      io.stderr.write(`synapse keys revoke: no key ${positionals[0]} in tenant ${tenant}\n`);
      return 3;
    }
    await audit.record({ tenant, actor: 'system', action: 'api_key.revoke', target: revoked.value.id, detail: { name: revoked.value.name, via: 'cli' } });
    io.stdout.write(`revoked ${revoked.value.id}; running gateways refuse it within seconds\n`);
    return 0;
  } finally {
    await database.close();
  }
}
