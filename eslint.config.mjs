// Flat config: typescript-eslint with type information, Prettier owns formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { builtinModules } from 'node:module';
import globals from 'globals';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const noNodeBuiltins = nodeBuiltins.map((name) => ({
  name,
  message: 'Workflow code must be deterministic: no Node built-ins.',
}));
const upward = (message, ...group) => [{ group, message }];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'dist/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'object-shorthand': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins there.
    files: ['workflows/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: noNodeBuiltins }] },
  },
  {
    // The domain floor is workflow-safe and imports nothing else of the project.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: noNodeBuiltins, patterns: upward('the domain floor imports nothing else of the project', '../*') },
      ],
    },
  },
  {
    // Every import arrow points down: activities never reach up into workflow code.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: upward('activities must not import workflow code', '**/workflows/**', '**/workflows') },
      ],
    },
  },
  {
    // The client is what operators and schedules link: it must not load the worker's configuration.
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: upward('the client must not import the worker', '**/worker/**', '**/worker') },
      ],
    },
  },
  {
    files: ['**/*.mjs', 'lab/bin/*'],
    languageOptions: { globals: globals.node },
  },
  prettier,
);
