/** Public surface of models/: small complete models assembled from core/, positional/ and nn/. */
export {};
