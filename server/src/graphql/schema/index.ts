// Assembles the schema from its domains; nothing else lives here.
import { lexicographicSortSchema } from 'graphql';
import { builder } from '../builder.js';
import './registry.js';
import './action-config.js';
import './services.js';
import './runs.js';
import './webhooks.js';
import './access.js';
import { guardSchema } from '../authorize.js';

export const schema = guardSchema(lexicographicSortSchema(builder.toSchema()));
