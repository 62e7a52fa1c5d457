/**
 * @synapse-gateway/client/dsl: the action-button condition DSL.
 * Pure TypeScript, no Node-only APIs: runs in browsers and on the server.
 */
export type {
  ActionConfig,
  ActionDefinition,
  ActionEndpoint,
  ActionMapping,
  ActionTrigger,
  ActionUi,
  AllCondition,
  AnyCondition,
  ButtonVariant,
  CompiledCondition,
  CompileOptions,
  ConditionTree,
  DslIssue,
  HttpMethod,
  InterpolateOptions,
  IssueSeverity,
  MigrationResult,
  NotCondition,
  ParseResult,
  Predicate,
  PredicateOperator,
  TypeMapping,
  VisibleAction,
} from './types.js';
export { evaluateCondition } from './evaluate.js';
export { compileCondition } from './compile.js';
export { validateCondition, OPERATORS } from './validate.js';
export { interpolate } from './interpolate.js';
export { parseActionConfig, HTTP_METHODS, BUTTON_VARIANTS } from './config.js';
export { visibleActions } from './visible.js';
export { migrateLegacyConditions, parseLegacyConditionString } from './migrate.js';
export * as limits from './limits.js';
