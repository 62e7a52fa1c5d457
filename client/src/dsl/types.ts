/**
 * Public types of the action-button condition DSL.
 *
 * The runtime functions accept `unknown` where input may come from an untrusted
 * file (YAML/JSON); these types describe the well-formed shapes.
 */

/** Operators a predicate can use. */
export type PredicateOperator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin' | 'exists';

/** Compares the value at `field` (a dot path into the subject) with `value`. */
export interface Predicate {
  field: string;
  op: PredicateOperator;
  value?: unknown;
}

/** True when every child is true (`all: []` is true). */
export interface AllCondition {
  all: ConditionTree[];
}

/** True when at least one child is true (`any: []` is false). */
export interface AnyCondition {
  any: ConditionTree[];
}

/** Negates its child. */
export interface NotCondition {
  not: ConditionTree;
}

export type ConditionTree = Predicate | AllCondition | AnyCondition | NotCondition;

/** A compiled condition: same result as `evaluateCondition(tree, subject)`. */
export type CompiledCondition = (subject: unknown) => boolean;

export type IssueSeverity = 'error' | 'warning';

/** A validation finding. `path` locates it, e.g. `when.all[1].op` or `actions.approve.ui.variant`. */
export interface DslIssue {
  path: string;
  message: string;
  code: string;
  /** Absent means `'error'`. */
  severity?: IssueSeverity;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type ButtonVariant = 'primary' | 'secondary' | 'danger' | 'success';

/** An HTTP call made when the button is clicked. */
export interface ActionEndpoint {
  /** May contain `{actionId}` and `{{action.…}}` placeholders. */
  path: string;
  method: HttpMethod;
  /** Interpolated in string mode. */
  body?: Record<string, unknown>;
}

/** A call to the gateway's `triggerAction` mutation made when the button is clicked. */
export interface ActionTrigger {
  /** A service id, or a single `{{…}}` placeholder. */
  serviceId: string;
  /** An action id, or a single `{{…}}` placeholder. */
  actionId: string;
  /** Interpolated in typed mode. */
  input?: Record<string, unknown>;
}

export interface ActionUi {
  label: string;
  variant: ButtonVariant;
  icon: string;
  confirmationMessage?: string;
}

/** A button definition: exactly one of `endpoint` or `trigger`, plus `ui`. */
export type ActionDefinition =
  | { endpoint: ActionEndpoint; trigger?: undefined; ui: ActionUi }
  | { trigger: ActionTrigger; endpoint?: undefined; ui: ActionUi };

export interface ActionMapping {
  action: string;
  when?: ConditionTree;
}

export interface TypeMapping {
  actions: ActionMapping[];
}

/** A validated action configuration, as returned by `parseActionConfig`. */
export interface ActionConfig {
  actions: Record<string, ActionDefinition>;
  types: Record<string, TypeMapping>;
  /** Mappings used for subject types that have no entry in `types`. */
  fallback?: TypeMapping;
}

export interface ParseResult {
  /** Non-null only when there is no error-severity issue. */
  config: ActionConfig | null;
  issues: DslIssue[];
}

/** A button to render for one subject. */
export interface VisibleAction {
  id: string;
  ui: ActionUi;
  endpoint?: { path: string; method: HttpMethod; body?: Record<string, unknown> };
  trigger?: { serviceId: string; actionId: string; input?: Record<string, unknown> };
}

export interface InterpolateOptions {
  /** A string that is exactly one placeholder keeps the referenced value's type (undefined → null). */
  typed?: boolean;
}

export interface CompileOptions {
  /** Generate a specialised function with `new Function` (not CSP-safe). Default false. */
  codegen?: boolean;
}

export interface MigrationResult {
  /** The migrated copy (null only when the input is not an object or unreadable YAML). */
  config: Record<string, unknown> | null;
  issues: DslIssue[];
}
