// serinus dashboard: "are you sure?" for destructive actions, in a modal <dialog> that says what
// will happen. Resolves true only when the named action is clicked.
"use strict";

(function () {
  function ask(title, body, action) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-body").textContent = body;
    const yes = document.getElementById("confirm-yes");
    yes.textContent = action;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-no").focus(); // the safe choice is the default
    });
  }

  window.SerinusConfirm = { ask };
})();
