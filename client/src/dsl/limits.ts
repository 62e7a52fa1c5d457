/** Limits shared by validation, evaluation and interpolation (documented in docs/dsl.md). */

/** Maximum nesting of a condition tree; the root node is at depth 1. */
export const MAX_CONDITION_DEPTH = 32;
/** Maximum nesting of a body/input template (deeper values are not walked). */
export const MAX_TEMPLATE_DEPTH = 32;
/** Maximum size of YAML text accepted by `parseActionConfig`, in UTF-8 bytes. */
export const MAX_YAML_BYTES = 1024 * 1024;
/** Maximum YAML alias dereferences (defends against "billion laughs" documents). */
export const MAX_YAML_ALIASES = 100;
export const MAX_ACTIONS = 1000;
export const MAX_TYPES = 1000;
/** Maximum mappings in one `types.<type>.actions` (or `fallback.actions`) list. */
export const MAX_MAPPINGS_PER_TYPE = 1000;
