/**
 * Typed documents for the gateway's operations. Result and variable types are
 * inferred from the text against `schema.graphql` (see graphql.ts):
 *
 *   const result = await client.query(ActionDefinitionsQuery, { first: 10 }).toPromise();
 *   result.data?.actionDefinitions.nodes[0]?.title; // string
 *
 * Adding an operation is one `export const X = graphql(`…`)` statement here
 * (no generation step); regenerate graphql-env.d.ts only when the schema changes.
 */
import { graphql } from './graphql.js';

// ---------------------------------------------------------------------------
// Fragments (unmasked: their fields appear directly in results)

export const ErrorFields = graphql(`
  fragment ErrorFields on Error {
    __typename
    code
    field
    message
  }
`);

export const ActionDefinitionFields = graphql(`
  fragment ActionDefinitionFields on ActionDefinition {
    id
    tenant
    title
    kind
    enabled
    version
    createdAt
    updatedAt
    specJson
    spec {
      __typename
      ... on PromptSpec { prompt agent model reasoning timeoutS }
      ... on CommandSpec { cmd shell cwd timeoutS }
    }
  }
`);

export const ConfigIssueFields = graphql(`
  fragment ConfigIssueFields on ConfigIssue {
    path
    message
    code
    severity
  }
`);

export const ActionConfigFields = graphql(
  `
  fragment ActionConfigFields on ActionConfig {
    version
    source
    config
    createdAt
    warnings { ...ConfigIssueFields }
  }
`,
  [ConfigIssueFields],
);

export const AvailableActionFields = graphql(`
  fragment AvailableActionFields on AvailableAction {
    id
    ui { label variant icon confirmationMessage }
    endpoint { path method body }
    trigger { serviceId actionId input }
  }
`);

// ---------------------------------------------------------------------------
// Action registry

export const ActionDefinitionsQuery = graphql(
  `
  query ActionDefinitions($first: Int, $after: String, $kind: ActionKind, $enabled: Boolean) {
    actionDefinitions(first: $first, after: $after, kind: $kind, enabled: $enabled) {
      nodes { ...ActionDefinitionFields }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [ActionDefinitionFields],
);

export const ActionDefinitionQuery = graphql(
  `
  query ActionDefinition($id: ID!) {
    actionDefinition(id: $id) { ...ActionDefinitionFields }
  }
`,
  [ActionDefinitionFields],
);

export const CreateActionDefinitionMutation = graphql(
  `
  mutation CreateActionDefinition($input: CreateActionDefinitionInput!) {
    createActionDefinition(input: $input) {
      __typename
      ... on CreateActionDefinitionSuccess { actionDefinition { ...ActionDefinitionFields } }
      ... on Error { ...ErrorFields }
    }
  }
`,
  [ActionDefinitionFields, ErrorFields],
);

export const UpdateActionDefinitionMutation = graphql(
  `
  mutation UpdateActionDefinition($id: ID!, $input: UpdateActionDefinitionInput!) {
    updateActionDefinition(id: $id, input: $input) {
      __typename
      ... on UpdateActionDefinitionSuccess { actionDefinition { ...ActionDefinitionFields } }
      ... on Error { ...ErrorFields }
    }
  }
`,
  [ActionDefinitionFields, ErrorFields],
);

export const DeleteActionDefinitionMutation = graphql(
  `
  mutation DeleteActionDefinition($id: ID!) {
    deleteActionDefinition(id: $id) {
      __typename
      ... on DeleteActionDefinitionSuccess { id }
      ... on Error { ...ErrorFields }
    }
  }
`,
  [ErrorFields],
);

// ---------------------------------------------------------------------------
// Action button configuration

export const ActionConfigQuery = graphql(
  `
  query ActionConfig {
    actionConfig { ...ActionConfigFields }
  }
`,
  [ActionConfigFields],
);

export const AvailableActionsQuery = graphql(
  `
  query AvailableActions($type: String!, $subject: JSON!) {
    availableActions(type: $type, subject: $subject) {
      __typename
      ... on AvailableActionsSuccess { actions { ...AvailableActionFields } }
      ... on Error { ...ErrorFields }
    }
  }
`,
  [AvailableActionFields, ErrorFields],
);

export const SetActionConfigMutation = graphql(
  `
  mutation SetActionConfig($yaml: String!) {
    setActionConfig(yaml: $yaml) {
      __typename
      ... on SetActionConfigSuccess { actionConfig { ...ActionConfigFields } }
      ... on ActionConfigInvalid { issues { ...ConfigIssueFields } }
      ... on Error { ...ErrorFields }
    }
  }
`,
  [ActionConfigFields, ConfigIssueFields, ErrorFields],
);
