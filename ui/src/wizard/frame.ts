// The frame every step shares, as macOS's own assistants do: the step's number and title, where the
// migration stands, the step's body, and a footer in a fixed place with Back on the left and
// Continue on the right. Continue says what blocks it when it cannot be clicked.
import type { PhaseLine } from "../bindings/PhaseLine";
import { h } from "../lib/dom";

export interface FrameProps {
  phase: PhaseLine;
  phases: PhaseLine[];
  lead: string;
  /** One line: where the migration stands. */
  headline: string;
  body: (HTMLElement | null)[];
  /** Why Continue cannot be clicked yet; null when it can. */
  blocked: string | null;
  onGo(phase: PhaseLine["phase"]): void;
}

export function frame(p: FrameProps): HTMLElement {
  const index = p.phases.findIndex((x) => x.phase === p.phase.phase);
  const prev = index > 0 ? p.phases[index - 1] : null;
  const next = index >= 0 && index + 1 < p.phases.length ? p.phases[index + 1] : null;
  // A step that is done and asks nothing more: Continue is the default button (the one primary).
  const bodyHasPrimary = p.body.some((el) => el !== null && (el.matches("button.primary") || el.querySelector("button.primary") !== null));
  const continueClass = p.phase.state === "done" && !bodyHasPrimary ? "primary" : "secondary";
  return h(
    "section",
    { class: "screen framed", "data-testid": `screen-${p.phase.phase}` },
    h(
      "header",
      { class: "screen-head" },
      h("p", { class: "step-no" }, `Step ${p.phase.number} of ${p.phases.length}`),
      h("h1", {}, p.phase.title),
    ),
    h("p", { class: "headline", "data-testid": "headline" }, p.headline),
    h("p", { class: "lead" }, p.lead),
    ...p.body,
    h(
      "footer",
      { class: "step-footer", "data-testid": "step-footer" },
      prev
        ? h("button", { type: "button", class: "secondary", "data-testid": "back", onclick: () => p.onGo(prev.phase) }, `← ${prev.title}`)
        : h("span", {}),
      h(
        "span",
        { class: "footer-right" },
        p.blocked && next ? h("span", { class: "blocked", "data-testid": "blocked" }, p.blocked) : null,
        next
          ? h(
              "button",
              { type: "button", class: continueClass, "data-testid": "continue", disabled: p.blocked !== null, onclick: () => p.onGo(next.phase) },
              `Continue: ${next.title} →`,
            )
          : null,
      ),
    ),
  );
}
