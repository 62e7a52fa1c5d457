// `npm run schema:print`: writes the sorted SDL to schema.graphql at the root.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './schema/index.js';

const target = fileURLToPath(new URL('../../../schema.graphql', import.meta.url));
writeFileSync(target, `${printSchema(schema)}\n`);
process.stdout.write('schema.graphql written\n');
