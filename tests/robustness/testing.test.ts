/** The robustness suite over ropelab/testing's exports (a subpath the root does not re-export); the table is tables/testing.ts. */
import * as testing from '../../testing/index.js';
import { robustnessSuite } from './harness.js';
import { testingEntries } from './tables/testing.js';

robustnessSuite('testing', testingEntries, import.meta.url, testing as unknown as Record<string, unknown>);
