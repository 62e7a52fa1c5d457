/** Process entry of `synapse` (client/bin/synapse.js runs this). */
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onSignal(handler) {
    const onSigint = () => handler('SIGINT');
    const onSigterm = () => handler('SIGTERM');
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    return () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    };
  },
});
// Let stdout drain, then leave even if a socket or timer lingers.
process.stdout.write('', () => process.exit(code));
