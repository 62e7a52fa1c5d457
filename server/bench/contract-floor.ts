/**
 * The round trip's contract floor (bench:events): the least any gateway adds
 * to the bare floor once it keeps the contracts the round trip goes through,
 * with nothing of this gateway's own. Beside the floor (a bare node:http
 * handler, mqtt.js, a postgres.js insert, a `ws` push) it has:
 *
 *  - the trigger as a GraphQL mutation over HTTP: a Yoga server with its
 *    defaults and a schema of three fields, no plugins, no input validation;
 *  - the outbox (ARCHITECTURE.md, section 1, step 2): the run, its first
 *    event (`requested`, sequence 1) and its command's outbox row committed
 *    in one statement before the command is published;
 *  - every transition an event with the run's next sequence number
 *    (section 3): the Axon's answer is stored in one statement with the
 *    `dispatched` event before it (as the gateway does when the Axon answers
 *    quickly), the run's state moved and its outbox row marked sent; events
 *    are unique by (source, id);
 *  - every state change (`requested`, `dispatched`, then the Axon's) to a
 *    `runUpdated` subscriber over graphql-ws, executed per subscriber through
 *    Yoga's envelop (graphql-ws's documented Yoga recipe), from an in-memory
 *    pubsub.
 *
 * Left out, so that it stays a floor: authentication, input and envelope
 * checks, the service catalogue, idempotency, audit, webhooks, metrics, logs,
 * duplicate events' handling, batching, flow control.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { type ExecutionArgs, GraphQLScalarType } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga, filter, pipe } from 'graphql-yoga';
import mqtt from 'mqtt';
import postgres from 'postgres';
import { WebSocketServer } from 'ws';
import { listenOnLoopback } from './common.js';

export interface ContractFloor {
  url: string;
  /** Throws unless every run succeeded with its three events (sequences 1..3) and its outbox row marked sent. */
  verify(): Promise<{ runs: number }>;
  close(): Promise<void>;
}

interface RunUpdate {
  id: string;
  serviceId: string;
  state: string;
  updatedAt: string;
  output: unknown;
}

/** A gateway event of a run (`requested`, `dispatched`), CloudEvents-shaped as the gateway's. */
function gatewayEvent(command: { id: string; traceId: string; parameters: { runId: string } }, shortType: string) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: 'trn:synapse:default:gateway',
    type: `aionix.openact.action.${shortType}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { status: shortType },
    tenant: 'default',
    traceId: command.traceId,
    runId: command.parameters.runId,
    correlationId: command.id,
  };
}

const JsonScalar = new GraphQLScalarType({ name: 'JSON', serialize: (v) => v, parseValue: (v) => v });

const typeDefs = /* GraphQL */ `
  scalar JSON
  type Run { id: ID! state: String! updatedAt: String! output: JSON }
  input TriggerActionInput { serviceId: String!, actionId: String!, input: JSON }
  type TriggerPayload { run: Run! }
  type Query { ok: Boolean }
  type Mutation { triggerAction(input: TriggerActionInput!): TriggerPayload! }
  type Subscription { runUpdated(serviceId: String): Run! }
`;

export const CONTRACT_TRIGGER = `mutation BenchEcho($input: TriggerActionInput!) {
  triggerAction(input: $input) { __typename run { id state } }
}`;
export const CONTRACT_RUN_UPDATED = `subscription BenchRunUpdated($serviceId: String) { runUpdated(serviceId: $serviceId) { id state updatedAt output } }`;

/**
 * `noDelay`: the floor's treatment of an mqtt.js client (no Nagle), the same here.
 * Tables `bench_contract_*` are made in `dbUrl` and dropped on close.
 */
export async function startContractFloor(brokerUrl: string, dbUrl: string, prefix: string, noDelay: (client: mqtt.MqttClient) => void): Promise<ContractFloor> {
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {}, connection: { application_name: 'synapse-bench-contract-floor' } });
  await sql`create table if not exists bench_contract_runs (id text primary key, service_id text not null, state text not null,
    input jsonb, next_seq integer not null, output jsonb, updated_at timestamptz not null default now())`;
  await sql`create table if not exists bench_contract_outbox (id bigserial primary key, run_id text not null, topic text not null, payload jsonb not null, sent_at timestamptz)`;
  await sql`create index if not exists bench_contract_outbox_run on bench_contract_outbox (run_id)`;
  await sql`create table if not exists bench_contract_events (id bigserial primary key, run_id text not null, seq integer not null, source text not null, event_id text not null,
    type text not null, data jsonb, envelope jsonb not null, received_at timestamptz not null default now(), unique (run_id, seq), unique (source, event_id))`;
  const client = await mqtt.connectAsync(brokerUrl, { clientId: `synapse-bench-contract-${randomBytes(4).toString('hex')}`, clean: true, protocolVersion: 4 });
  noDelay(client);
  const pubsub = createPubSub<{ runUpdated: [RunUpdate] }>();

  const schema = createSchema({
    typeDefs,
    resolvers: {
      JSON: JsonScalar,
      Mutation: {
        triggerAction: async (_: unknown, { input }: { input: { serviceId: string; actionId: string; input: unknown } }) => {
          const runId = randomUUID();
          const topic = `${prefix}/command/${input.serviceId}`;
          const command = {
            id: randomUUID(),
            traceId: randomBytes(16).toString('hex'),
            tenant: 'default',
            target: `trn:synapse:default:service/${input.serviceId}:action/${input.actionId}`,
            parameters: { runId, actionId: input.actionId, input: input.input, serviceId: input.serviceId },
          };
          const requestedEvent = gatewayEvent(command, 'requested');
          const [run] = await sql<Array<{ updatedAt: Date }>>`with run as (
              insert into bench_contract_runs (id, service_id, state, input, next_seq) values (${runId}, ${input.serviceId}, 'requested', ${sql.json(input.input as never)}, 2)
              returning updated_at),
            ev as (insert into bench_contract_events (run_id, seq, source, event_id, type, data, envelope)
              values (${runId}, 1, ${requestedEvent.source}, ${requestedEvent.id}, ${requestedEvent.type}, ${sql.json(requestedEvent.data as never)}, ${sql.json(requestedEvent as never)})),
            ob as (insert into bench_contract_outbox (run_id, topic, payload) values (${runId}, ${topic}, ${sql.json(command as never)}))
            select updated_at as "updatedAt" from run`;
          // Committed (the statement ran alone): published, then the first update.
          await client.publishAsync(topic, JSON.stringify(command), { qos: 1 });
          const requested: RunUpdate = { id: runId, serviceId: input.serviceId, state: 'requested', updatedAt: run!.updatedAt.toISOString(), output: null };
          pubsub.publish('runUpdated', requested);
          return { run: requested };
        },
      },
      Subscription: {
        runUpdated: {
          subscribe: (_: unknown, { serviceId }: { serviceId?: string | null }) =>
            pipe(
              pubsub.subscribe('runUpdated'),
              filter((run) => !serviceId || run.serviceId === serviceId),
            ),
          resolve: (run: RunUpdate) => run,
        },
      },
    },
  });
  const yoga = createYoga({ schema, graphiql: false, logging: false });
  const server = createServer(yoga);
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, perMessageDeflate: false });
  type Root = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
  useServer(
    {
      execute: (args) => (args.rootValue as Root).execute(args) as never,
      subscribe: (args) => (args.rootValue as Root).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema: enveloped, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
        const args = {
          schema: enveloped,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    wss,
  );

  client.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { id: string; source: string; type: string; runId: string; correlationId: string; traceId: string; data: { output?: unknown } };
    const state = event.type.slice(event.type.lastIndexOf('.') + 1);
    const dispatched = gatewayEvent({ id: event.correlationId, traceId: event.traceId, parameters: { runId: event.runId } }, 'dispatched');
    sql<Array<{ serviceId: string; updatedAt: Date }>>`with run as (
        update bench_contract_runs set next_seq = next_seq + 2, state = ${state}, output = ${sql.json((event.data.output ?? null) as never)}, updated_at = now()
        where id = ${event.runId} returning id, next_seq - 2 as seq, service_id, updated_at),
      ev as (insert into bench_contract_events (run_id, seq, source, event_id, type, data, envelope)
        select id, seq, ${dispatched.source}, ${dispatched.id}, ${dispatched.type}, ${sql.json(dispatched.data as never)}, ${sql.json(dispatched as never)} from run
        union all
        select id, seq + 1, ${event.source}, ${event.id}, ${event.type}, ${sql.json(event.data as never)}, ${sql.json(event as never)} from run),
      sent as (update bench_contract_outbox set sent_at = now() where run_id = ${event.runId} and sent_at is null)
      select service_id as "serviceId", updated_at as "updatedAt" from run`.then(
      ([run]) => {
        if (!run) return;
        const updatedAt = run.updatedAt.toISOString();
        pubsub.publish('runUpdated', { id: event.runId, serviceId: run.serviceId, state: 'dispatched', updatedAt, output: null });
        pubsub.publish('runUpdated', { id: event.runId, serviceId: run.serviceId, state, updatedAt, output: event.data.output ?? null });
      },
      (error: unknown) => process.stderr.write(`[bench] contract floor: storing an event failed: ${String(error)}\n`),
    );
  });
  await client.subscribeAsync(`${prefix}/event/+`, { qos: 1 });
  return {
    url: await listenOnLoopback(server),
    async verify() {
      const [row] = await sql<Array<{ runs: number; unfinished: number; badLogs: number; unsent: number }>>`select
          (select count(*)::int from bench_contract_runs) as runs,
          (select count(*)::int from bench_contract_runs where state <> 'succeeded' or next_seq <> 4) as unfinished,
          (select count(*)::int from (select run_id from bench_contract_events group by run_id having count(*) <> 3 or max(seq) <> 3) bad) as "badLogs",
          (select count(*)::int from bench_contract_outbox where sent_at is null) as unsent`;
      if (!row || row.unfinished + row.badLogs + row.unsent > 0) throw new Error(`contract floor: inconsistent runs ${JSON.stringify(row)}`);
      return { runs: row.runs };
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      await client.endAsync();
      await sql`drop table if exists bench_contract_events, bench_contract_outbox, bench_contract_runs`;
      await sql.end({ timeout: 5 });
    },
  };
}
