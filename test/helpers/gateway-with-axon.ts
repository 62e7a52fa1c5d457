// A test file's usual fixture: a test gateway and one Axon (plain MQTT) that
// announced itself with the action `work` and is online.
import { randomUUID } from 'node:crypto';
import { startTestAxon, type TestAxon } from './axon.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { eventually } from './wait.js';

export interface GatewayWithAxon {
  gw: TestGateway;
  axon: TestAxon;
  serviceId: string;
  close(): Promise<void>;
}

export async function startGatewayWithAxon(idPrefix: string): Promise<GatewayWithAxon> {
  const gw = await startTestGateway();
  const serviceId = `${idPrefix}-${randomUUID().slice(0, 8)}`;
  const axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, actions: ['work'] });
  await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
  return {
    gw,
    axon,
    serviceId,
    async close() {
      await axon.close();
      await gw.close();
    },
  };
}
