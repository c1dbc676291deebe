/**
 * @deprecated The `guard` commands live in client/cli/guard.ts with the other commands. This
 * re-export keeps test/integration/reconciler.test.ts (owned elsewhere) compiling until its import
 * points there; then delete this file.
 */
export { registerGuardCommands } from '../cli/guard';
