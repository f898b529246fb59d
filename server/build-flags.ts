/**
 * Whether this code runs as the compiled build (dist/, made by scripts/build.ts, which
 * defines OWP_COMPILED) or as TypeScript sources (tests, tsx). Only asset lookups differ:
 * the compiled build reads files made at build time instead of building them.
 */
declare const OWP_COMPILED: boolean | undefined;

export const compiled: boolean = typeof OWP_COMPILED !== 'undefined' && OWP_COMPILED === true;
