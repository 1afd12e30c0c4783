import type { Phase } from "../bindings/Phase";
import type { PhaseState } from "../bindings/PhaseState";
import type { PhaseLine } from "../bindings/PhaseLine";
import { h } from "../lib/dom";

export const STATE_LABEL: Record<PhaseState, string> = {
  not_started: "Not started",
  running: "Running",
  done: "Done",
  needs_attention: "Needs attention",
};

const STATE_MARK: Record<PhaseState, string> = {
  not_started: "",
  running: "…",
  done: "✓",
  needs_attention: "!",
};

/** The wizard's steps, each with its number, title and state. */
export function sidebar(
  phases: PhaseLine[],
  selected: Phase,
  onSelect: (phase: Phase) => void,
): HTMLElement {
  return h(
    "nav",
    { class: "sidebar", "aria-label": "Migration steps" },
    h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Ferry"),
    h("p", { class: "sidebar-caption" }, "Migration steps"),
    h(
      "ol",
      { class: "phases" },
      phases.map((p) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: `phase state-${p.state}${p.phase === selected ? " selected" : ""}`,
              "data-testid": `phase-${p.phase}`,
              "data-state": p.state,
              "aria-current": p.phase === selected ? "step" : null,
              title: p.summary,
              onclick: () => onSelect(p.phase),
            },
            h("span", { class: "phase-mark", "aria-hidden": "true" }, STATE_MARK[p.state] || String(p.number)),
            h(
              "span",
              { class: "phase-text" },
              h("span", { class: "phase-title" }, p.title),
              h(
                "span",
                { class: "phase-state" },
                p.note ? `${STATE_LABEL[p.state]}: ${p.note}` : STATE_LABEL[p.state],
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
