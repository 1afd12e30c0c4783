import type { PhaseStatus } from "../bindings/PhaseStatus";
import { h } from "../lib/dom";

/** A step this version of Ferry cannot do yet: say what it will do, and that it is not here. */
export function placeholderScreen(p: PhaseStatus): HTMLElement {
  return h(
    "section",
    { class: "screen", "data-testid": `screen-${p.phase}` },
    h("header", { class: "screen-head" }, h("p", { class: "step-no" }, `Step ${p.number} of 11`), h("h1", {}, p.title)),
    h("p", { class: "lead" }, p.summary),
    h(
      "div",
      { class: "notice", "data-testid": "not-built" },
      h("strong", {}, "Not built yet. "),
      "This version of Ferry cannot do this step yet. Nothing here changes your servers. ",
      "Discovery (step 1) works today: it tells you what there is to move.",
    ),
  );
}
