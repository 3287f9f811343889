// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'lib/', 'src/clients/generated/', 'test-artifacts/', 'bin/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Workflows must stay deterministic: no Node built-ins or clients inside them.
      'no-restricted-syntax': [
        'error',
        {
          selector: "Property[key.name='rejectUnauthorized'][value.value=false]",
          message: 'TLS verification is never disabled.',
        },
      ],
    },
  },
  {
    // Tests read arbitrary JSON answers of the simulated APIs.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts', 'src/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'net', 'tls', 'http', 'https', 'crypto'],
              message: 'Workflow code is deterministic: no I/O.',
            },
            {
              group: ['**/clients/*', '**/sandbox/*', '@elastic/*'],
              message: 'Workflows never import clients or the sandbox.',
            },
            {
              group: [
                '**/activities',
                '**/activities/index',
                '**/activities/cloud',
                '**/activities/elasticsearch',
                '**/activities/tls',
              ],
              message: 'Import activity types only (activities/types).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
