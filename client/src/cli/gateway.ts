/** The GraphQL operations the CLI sends, through the package's urql client. */
import { createGatewayClient, type GatewayClient } from '../urql/client.js';
import { graphql } from '../urql/graphql.js';
import { graphqlEndpoint } from './io.js';

export const TriggerActionMutation = graphql(`
  mutation CliTriggerAction($input: TriggerActionInput!) {
    triggerAction(input: $input) {
      __typename
      ... on TriggerPayload { replayed run { id state reason output error serviceId actionId } }
      ... on Error { code field message }
    }
  }
`);

export const RunActionDefinitionMutation = graphql(`
  mutation CliRunActionDefinition($input: RunActionDefinitionInput!) {
    runActionDefinition(input: $input) {
      __typename
      ... on TriggerPayload { replayed run { id state reason output error serviceId actionId } }
      ... on Error { code field message }
    }
  }
`);

export const RunQuery = graphql(`
  query CliRun($id: ID!, $after: Int, $first: Int) {
    run(id: $id) { id state reason events(after: $after, first: $first) { seq type state reason data } }
  }
`);

/** `token`: the API key (env SYNAPSE_TOKEN), sent as Authorization: Bearer on HTTP and in connection_init. */
export function gatewayClient(gateway: string, webSocketImpl?: unknown, token?: string): GatewayClient {
  return createGatewayClient({ url: graphqlEndpoint(gateway), ...(webSocketImpl ? { webSocketImpl } : {}), ...(token ? { token } : {}), retryAttempts: 5 });
}
