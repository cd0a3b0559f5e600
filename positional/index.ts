/** Public surface of positional/: rotary position encodings, built on core/ only. */
export {};
