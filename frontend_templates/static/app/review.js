// Label-error review: one key answers the first suspect ("k" keeps its label, "r" relabels it
// with the suggested class); the server answers with the next suspects. A suspect without a
// suggested class has no relabel button: "r" says so on its tile and focuses its "open" link
// (Enter opens its item view, where any class can be given).
"use strict";

(() => {
  function noSuggestion(suspect) {
    let note = suspect.querySelector(".no-suggestion");
    if (!note) {
      note = document.createElement("p");
      note.className = "no-suggestion";
      note.setAttribute("role", "status");
      note.textContent = "No suggested class: press Enter (or open) to give it any class in its item view.";
      suspect.querySelector("figcaption").append(note);
    }
    const open = suspect.querySelector("a.button[href^='/items/']");
    if (open) open.focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (labelwise.typingIn(event.target)) return;
    const action = { k: "keep", r: "relabel" }[event.key];
    if (!action) return;
    const suspect = document.querySelector("#suspects .suspect");  // the first: the one the keys answer
    if (!suspect) return;
    event.preventDefault();
    const button = suspect.querySelector(`[data-review="${action}"]`);
    if (button) button.click();
    else noSuggestion(suspect);
  });

  // Back to the page (an item opened from it and labeled there, say): the suspects as they are now,
  // not a "keep" that would keep a label since changed.
  labelwise.onBack(() => {
    const suspects = document.getElementById("suspects");
    if (suspects && suspects.dataset.repaint) labelwise.redraw(suspects);
  });
})();
