// Label-error review: one key answers the first suspect ("k" keeps its label, "r" relabels it
// with the suggested class); the server answers with the next suspects.
"use strict";

(() => {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (labelwise.typingIn(event.target)) return;
    const action = { k: "keep", r: "relabel" }[event.key];
    if (!action) return;
    const button = document.querySelector(`#suspects .suspect [data-review="${action}"]`);
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  // Back to the page (an item opened from it and labeled there, say): the suspects as they are now,
  // not a "keep" that would keep a label since changed.
  labelwise.onBack(() => {
    const suspects = document.getElementById("suspects");
    if (suspects && suspects.dataset.repaint) labelwise.redraw(suspects);
  });
})();
