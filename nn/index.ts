/** Public surface of nn/: modules and layers built on core/ (see the nn issue for what lands here). */
export {};
