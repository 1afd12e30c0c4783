// Checks the stylesheet against the oldest web view Ferry runs in (.browserslistrc: Safari 13.1).
// Two features are "partially supported" there and used only in the supported part:
// `overflow` with one keyword (hidden/auto; Safari 13.1 lacks `clip` and the two-value form) and
// a plain two-stop `linear-gradient` (it lacks interpolation hints). Flexbox `gap`, for one, is
// not supported at all and fails the check: flex rows space their children with margins.
export default {
  plugins: ["stylelint-no-unsupported-browser-features"],
  rules: {
    "plugin/no-unsupported-browser-features": [
      true,
      { severity: "error", ignore: ["css-overflow", "css-gradients"] },
    ],
  },
};
