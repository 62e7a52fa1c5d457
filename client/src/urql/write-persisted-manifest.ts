// `npm run persisted:build`: writes client/persisted-operations.json (run by `npm run schema:print` too).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildPersistedManifest, printPersistedManifest } from './persisted.js';

const target = fileURLToPath(new URL('../../persisted-operations.json', import.meta.url));
writeFileSync(target, printPersistedManifest());
process.stdout.write(`persisted-operations.json written (${Object.keys(buildPersistedManifest()).length} operations)\n`);
