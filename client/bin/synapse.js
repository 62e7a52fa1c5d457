#!/usr/bin/env node
// `synapse` command: runs the built CLI (dist/) when present; inside the
// workspace, without a build, runs the TypeScript sources through tsx with the
// `synapse-source` condition.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/bin.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    console.error('synapse: no build of @synapse-gateway/client (dist/) and tsx is not installed; run "npm run build -w client" or install tsx');
    process.exit(3);
  }
  const source = fileURLToPath(new URL('../src/cli/bin.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', tsx, '--conditions=synapse-source', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
}
