/** The robustness suite over positional/'s exports; the table is tables/positional.ts. */
import { robustnessSuite } from './harness.js';
import { positionalEntries } from './tables/positional.js';

robustnessSuite('positional', positionalEntries, import.meta.url);
