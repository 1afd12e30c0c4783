import type { PhaseLine } from "../bindings/PhaseLine";
import { h } from "../lib/dom";

/** A step this version of the app does not show yet: what it will do, and what blocks it. */
export function placeholderBody(phase: PhaseLine): HTMLElement[] {
  return [
    phase.blockers.length > 0
      ? h("ul", { class: "blockers", "data-testid": "blockers" }, phase.blockers.map((b) => h("li", {}, b)))
      : h("span", {}),
    h(
      "div",
      { class: "notice", "data-testid": "not-built" },
      h("strong", {}, "Not in the app yet. "),
      "This version of the app does not show this step yet. Nothing here changes your servers.",
    ),
  ];
}

/** What must happen before a step can run, as the placeholder lists it; `null` when nothing. */
export function blockerList(blockers: string[]): HTMLElement | null {
  return blockers.length > 0 ? h("ul", { class: "blockers", "data-testid": "blockers" }, blockers.map((b) => h("li", {}, b))) : null;
}
