/**
 * Test setup, preloaded (node --import) by `node scripts/test.mjs --backend NAME` before the test files (not a test):
 * switches the process to the backend named by ROPELAB_BACKEND before any test runs, so the same tests check the
 * kernels of that backend. Without the variable it does nothing.
 */
import { getBackend, setBackend } from '../../core/index.js';

const name = process.env['ROPELAB_BACKEND'];
if (name !== undefined && name !== '' && getBackend() !== name) setBackend(name);
