/** Kept in PRAGMA user_version; bump when a table or column changes meaning. */
export const SCHEMA_VERSION = 8;
