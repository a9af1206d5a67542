// The linter CI runs (`npm run lint`): typescript-eslint's recommended rules, type-aware, on src and test.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/', ]},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {parserOptions: {project: ['./tsconfig.json', './tsconfig.test.json'], tsconfigRootDir: import.meta.dirname}},
    rules: {
      // Promises must be awaited or handled: a forgotten one is a hang or an unhandled rejection in a CLI.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', {checksVoidReturn: false}],
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      // Domain code never prints (STYLE.md): output goes through the command layer.
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly'}},
  },
  // Tests and tools print; tests match escape sequences on purpose.
  {files: ['test/**', 'bench/**', 'scripts/**'], rules: {'no-console': 'off', 'no-control-regex': 'off'}},
)
