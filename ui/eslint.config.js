// Checks the UI's JavaScript against the oldest web view Ferry runs in (.browserslistrc: Safari
// 13.1, macOS 10.13): web APIs it lacks (eslint-plugin-compat) in the sources, and, in the built
// bundle, syntax newer than ES2020 (Safari 13.1 parses ES2020; class fields, `??=` and the like
// came in Safari 14-15), which would stop the whole app from loading there.
import compat from "eslint-plugin-compat";
import tseslint from "typescript-eslint";

export default [
  {
    files: ["src/**/*.ts"],
    ignores: ["src/bindings/**"],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2020, sourceType: "module" },
    plugins: { compat },
    rules: { "compat/compat": "error" },
  },
  {
    files: ["dist/**/*.js"],
    languageOptions: { ecmaVersion: 2020, sourceType: "module" },
    plugins: { compat },
    rules: { "compat/compat": "error" },
  },
];
