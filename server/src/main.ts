// Process entry point: environment, ports, signals and exit codes live here.
import { parseConfig } from './config/config.js';
import { StartupError, startGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

const parsed = parseConfig(process.env);
if (!parsed.ok) {
  process.stderr.write(`Synapse Gateway cannot start: invalid configuration\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}\nSee docs/operations.md for every variable and its default.\n`);
  process.exit(2);
}
const config = parsed.config;
const logger = createLogger(config.LOG_LEVEL);
const startedAt = performance.now();

try {
  const gateway = await startGateway(config, { logger, onProgress: (message) => logger.info(message) });
  const ms = Math.round(performance.now() - startedAt);
  logger.info({ url: gateway.url, startupMs: ms }, 'gateway listening');
  process.stdout.write(`\nSynapse Gateway is up (${ms} ms)\n  GraphiQL:  ${gateway.url}/graphql\n  Health:    ${gateway.url}/readyz\n  Metrics:   ${gateway.url}/metrics\n\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    gateway.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  const message = error instanceof StartupError ? error.message : `unexpected start-up failure: ${String(error)}`;
  logger.fatal({ err: message }, 'start-up failed');
  process.stderr.write(`Synapse Gateway cannot start: ${message}\n`);
  process.exit(1);
}
