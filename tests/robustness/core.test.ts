/** The robustness suite over core/'s exports; the table is tables/core.ts. */
import { robustnessSuite } from './harness.js';
import { coreEntries } from './tables/core.js';

robustnessSuite('core', coreEntries, import.meta.url);
