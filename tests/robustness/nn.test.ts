/** The robustness suite over nn/'s exports; the table is tables/nn.ts. */
import { robustnessSuite } from './harness.js';
import { nnEntries } from './tables/nn.js';

robustnessSuite('nn', nnEntries, import.meta.url);
