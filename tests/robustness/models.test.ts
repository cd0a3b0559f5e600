/** The robustness suite over models/'s exports; the table is tables/models.ts. */
import { robustnessSuite } from './harness.js';
import { modelsEntries } from './tables/models.js';

robustnessSuite('models', modelsEntries, import.meta.url);
