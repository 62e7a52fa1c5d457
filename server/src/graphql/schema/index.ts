// Assembles the schema from its domains; nothing else lives here.
import { lexicographicSortSchema } from 'graphql';
import { builder } from '../builder.js';
import './registry.js';

export const schema = lexicographicSortSchema(builder.toSchema());
