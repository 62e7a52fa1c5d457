// Action button configuration in GraphQL: the current versioned configuration,
// setting a new one (typed issues when rejected) and the buttons it shows for a
// subject, evaluated with the client package's own DSL code.
import { actorOf } from '../../auth/principal.js';
import { BUTTON_VARIANTS, HTTP_METHODS, type VisibleAction } from '@synapse-gateway/client/dsl';
import type { ActionConfigRejection, ConfigIssue, StoredActionConfig } from '../../actionconfig/service.js';
import { ErrorInterface, UserFailure, builder, unwrap } from '../builder.js';

/** `setActionConfig` rejected the YAML; carries every issue with its path. */
export class ActionConfigInvalidFailure extends Error implements ActionConfigRejection {
  readonly code = 'invalid_action_config' as const;
  readonly field = 'yaml' as const;
  constructor(
    message: string,
    readonly issues: ConfigIssue[],
  ) {
    super(message);
    this.name = 'ActionConfigInvalidFailure';
  }
}

const IssueSeverityEnum = builder.enumType('ConfigIssueSeverity', {
  description: 'An error rejects the configuration; a warning (an unknown key, literal braces) does not.',
  values: ['error', 'warning'] as const,
});

const ConfigIssueRef = builder.objectRef<ConfigIssue>('ConfigIssue').implement({
  description: 'A finding of the DSL validator, located by its path (e.g. `types.research.actions[0].when.all[1].op`).',
  fields: (t) => ({
    path: t.exposeString('path', { description: '`$` for the document itself (YAML syntax, size).' }),
    message: t.exposeString('message'),
    code: t.exposeString('code', { description: 'Machine code, e.g. unknown_action, unknown_operator, yaml_syntax, too_large.' }),
    severity: t.field({ type: IssueSeverityEnum, resolve: (issue) => issue.severity }),
  }),
});

builder.objectType(ActionConfigInvalidFailure, {
  name: 'ActionConfigInvalid',
  description: 'The action configuration was rejected (code `invalid_action_config`); nothing was stored.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ActionConfigInvalidFailure,
  fields: (t) => ({
    issues: t.field({
      type: [ConfigIssueRef],
      description: 'Every issue, errors and warnings, in document order of the checks.',
      resolve: (failure) => failure.issues,
    }),
  }),
});

const ActionConfigRef = builder.objectRef<StoredActionConfig>('ActionConfig').implement({
  description: "A version of the tenant's action button configuration (see docs/dsl.md).",
  fields: (t) => ({
    version: t.exposeInt('version', { description: '1, 2, ... per tenant; the highest is the current one.' }),
    source: t.exposeString('source', { description: 'The YAML text as it was set.' }),
    config: t.field({ type: 'JSON', description: 'The validated configuration as JSON (known keys only).', resolve: (c) => c.config }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    warnings: t.field({ type: [ConfigIssueRef], description: 'Warnings found when the text was validated.', resolve: (c) => c.warnings }),
  }),
});

const ButtonVariantEnum = builder.enumType('ButtonVariant', { values: BUTTON_VARIANTS });
const HttpMethodEnum = builder.enumType('HttpMethod', { values: HTTP_METHODS });

type ButtonEndpoint = NonNullable<VisibleAction['endpoint']>;
type ButtonTrigger = NonNullable<VisibleAction['trigger']>;

const ActionButtonUiRef = builder.objectRef<VisibleAction['ui']>('ActionButtonUi').implement({
  fields: (t) => ({
    label: t.exposeString('label'),
    variant: t.field({ type: ButtonVariantEnum, resolve: (ui) => ui.variant }),
    icon: t.exposeString('icon', { description: 'A Lucide icon name, e.g. Play.' }),
    confirmationMessage: t.string({ nullable: true, resolve: (ui) => ui.confirmationMessage ?? null }),
  }),
});

const ActionButtonEndpointRef = builder.objectRef<ButtonEndpoint>('ActionButtonEndpoint').implement({
  description: 'An HTTP call, with `{actionId}` and `{{…}}` already expanded.',
  fields: (t) => ({
    path: t.exposeString('path'),
    method: t.field({ type: HttpMethodEnum, resolve: (e) => e.method }),
    body: t.field({ type: 'JSON', nullable: true, description: 'Interpolated in string mode.', resolve: (e) => e.body ?? null }),
  }),
});

const ActionButtonTriggerRef = builder.objectRef<ButtonTrigger>('ActionButtonTrigger').implement({
  description: 'A `triggerAction` call, with placeholders resolved.',
  fields: (t) => ({
    serviceId: t.exposeString('serviceId'),
    actionId: t.exposeString('actionId'),
    input: t.field({ type: 'JSON', nullable: true, description: 'Interpolated in typed mode.', resolve: (tr) => tr.input ?? null }),
  }),
});

const AvailableActionRef = builder.objectRef<VisibleAction>('AvailableAction').implement({
  description: 'A button to show, exactly as `visibleActions` of `@synapse-gateway/client/dsl` returns it (absent keys are null).',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The action id in the configuration.' }),
    ui: t.field({ type: ActionButtonUiRef, resolve: (a) => a.ui }),
    endpoint: t.field({ type: ActionButtonEndpointRef, nullable: true, resolve: (a) => a.endpoint ?? null }),
    trigger: t.field({ type: ActionButtonTriggerRef, nullable: true, resolve: (a) => a.trigger ?? null }),
  }),
});

builder.queryFields((t) => ({
  actionConfig: t.field({
    type: ActionConfigRef,
    nullable: true,
    description: "The tenant's current action configuration; null when none was set.",
    resolve: (_root, _args, ctx) => ctx.actionConfigs.current(ctx.principal.tenant),
  }),
  availableActions: t.field({
    type: [AvailableActionRef],
    description:
      'The buttons of the current configuration for `subject` of `type`, in mapping order (the fallback for a type without mapping; none without configuration). `subject` is at most 64 KiB of JSON.',
    args: {
      type: t.arg.string({ required: true }),
      subject: t.arg({ type: 'JSON', required: true }),
    },
    errors: { types: [UserFailure], dataField: { name: 'actions' } },
    resolve: async (_root, args, ctx) => unwrap(await ctx.actionConfigs.available(ctx.principal.tenant, args.type, args.subject)),
  }),
}));

builder.mutationFields((t) => ({
  setActionConfig: t.field({
    type: ActionConfigRef,
    description: 'Validates the YAML (at most 1 MiB) with the DSL and stores it as the next version.',
    args: { yaml: t.arg.string({ required: true }) },
    errors: { types: [ActionConfigInvalidFailure], dataField: { name: 'actionConfig' } },
    resolve: async (_root, { yaml }, ctx) => {
      const result = await ctx.actionConfigs.set(ctx.principal.tenant, yaml);
      if (!result.ok) throw new ActionConfigInvalidFailure(result.error.message, result.error.issues);
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'action_config.set', target: String(result.value.version), detail: { bytes: Buffer.byteLength(yaml) } });
      return result.value;
    },
  }),
}));
