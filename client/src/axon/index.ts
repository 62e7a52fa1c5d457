/**
 * @synapse-gateway/client/axon: write an Axon (an agent that runs actions for the
 * gateway) in TypeScript. Node only: it speaks MQTT through mqtt.js, and the
 * built-in `command` and `prompt` runners spawn processes (they live in
 * `./runners/` and are loaded only when enabled).
 */
export { createAxon, startAxon } from './axon.js';
export type {
  ActionContext,
  ActionDeclaration,
  ActionHandler,
  Axon,
  AxonLogger,
  AxonOptions,
  AxonStats,
  BuiltinRunner,
  Runner,
  RunnerOptions,
} from './axon.js';
export { ActionError, RunAborted, abortKind } from './errors.js';
export type { AbortKind, ActionErrorOptions } from './errors.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { errorData, fitData, jsonBytes, splitText, utf8Bytes } from './chunk.js';
export { SeenIds } from './dedup.js';
export { uuidv7 } from './ids.js';
export {
  buildEvent,
  buildSnapshot,
  DEFAULT_TENANT,
  DEFAULT_TOPIC_PREFIX,
  EVENT_TYPE_PREFIX,
  LIMITS,
  normaliseTraceId,
  parseCommand,
  serviceSourceTrn,
  topicsFor,
} from './protocol.js';
export type { ActionItem, AxonEventType, Command, CommandDefinition, EventData, EventEnvelope, SnapshotParams, Topics } from './protocol.js';
export { createCommandRunner, createPromptRunner, shellAction } from './runners/index.js';
