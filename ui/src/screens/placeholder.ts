import type { PhaseStatus } from "../bindings/PhaseStatus";
import { h } from "../lib/dom";

/** A step this version of Ferry cannot do yet: say what it will do, and that it is not here. */
export function placeholderBody(_phase: PhaseStatus): HTMLElement[] {
  return [
    h(
      "div",
      { class: "notice", "data-testid": "not-built" },
      h("strong", {}, "Not built yet. "),
      "This version of Ferry cannot do this step yet. Nothing here changes your servers. ",
      "Discovery (step 1) works today: it tells you what there is to move.",
    ),
  ];
}
