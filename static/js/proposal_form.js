// The proposal form, enhanced: the error summary takes focus, the budget is worked out live (on the server, in
// Decimal), drafts save themselves, Save draft saves in place (the page is not loaded again), leaving with unsaved
// changes warns, and removing an attachment asks first.
// Everything here is an enhancement: without JavaScript the form saves, checks and submits the same way.
(function () {
  "use strict";
  var form = document.getElementById("proposal-form");
  if (!form) { return; }

  // ---- Live budget ------------------------------------------------------------------------------------------
  var budgetTimer = null;
  function refreshBudget() {
    var params = new URLSearchParams();
    form.querySelectorAll(".hours-input, [name=other_funding]").forEach(function (input) {
      params.append(input.name, input.value);
    });
    fetch(form.dataset.budgetUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        Object.keys(data).forEach(function (key) {
          var cell = form.querySelector("[data-budget='" + key + "']");
          if (cell) { cell.textContent = data[key]; }
        });
      })
      .catch(function () { /* the figures are refreshed again on save */ });
  }

  // ---- Unsaved changes and autosave ---------------------------------------------------------------------------
  var dirty = false;          // typed since the last save
  var fileChosen = false;     // a file waits to be uploaded: only Save draft or Submit sends it
  var sending = false;        // the form itself is being submitted
  var saveTimer = null;
  var status = document.getElementById("autosave-status");
  var AUTOSAVE_AFTER = 2000;  // ms without typing

  // The status line is a live region: emptied first, so that the same words said twice are announced twice.
  function say(text) {
    if (!status) { return; }
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  // Saves go one after another, so that an older autosave never lands after a newer Save draft.
  var queue = Promise.resolve();
  function inTurn(work) {
    queue = queue.then(work, work);
    return queue;
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      return (json ? response.json() : Promise.resolve({})).then(function (body) {
        return { ok: response.ok && body.saved === true, json: body };
      });
    });
  }

  function autosave() {
    if (!form.dataset.autosaveUrl || sending) { return; }
    var data = new FormData(form);
    data.delete("attachment");
    data.delete("action");
    data.delete("remove_attachment");
    var savedWhileDirty = dirty;
    dirty = false;
    inTurn(function () {
      return post(form.dataset.autosaveUrl, data)
        .then(function (result) {
          if (result.json.message) { say(result.json.message); }
          if (!result.ok) { dirty = dirty || savedWhileDirty; }
        })
        .catch(function () { dirty = dirty || savedWhileDirty; });
    });
  }

  // Save draft without loading the page again: the server answers "saved at 18:02", said in the status line (a
  // live region). With a file to send, an attachment to remove, or any answer but "saved" (a field too long, the
  // proposal submitted meanwhile, the session expired, no network), the form is sent the ordinary way, and the page
  // that comes back shows the problem next to what was typed.
  var saveButton = form.querySelector("button[name=action][value=save]");
  var removeInput = document.getElementById("remove-attachment");
  var ordinary = false;
  function saveInPlace() {
    var data = new FormData(form);
    data.delete("attachment");
    data.set("action", "save");
    var savedWhileDirty = dirty;
    dirty = false;
    window.clearTimeout(saveTimer);
    form.dataset.sending = "1";
    inTurn(function () {
      return post(form.dataset.saveUrl, data)
        .then(function (result) {
          if (!result.ok) { throw new Error("not saved"); }
          say(result.json.message);
          form.dataset.sending = "";
        })
        .catch(function () {
          dirty = dirty || savedWhileDirty;
          form.dataset.sending = "";
          ordinary = true;
          form.requestSubmit(saveButton);
        });
    });
  }

  form.addEventListener("input", function (event) {
    if (event.target.type === "file") { return; }
    dirty = true;
    if (event.target.matches(".hours-input, [name=other_funding]")) {
      window.clearTimeout(budgetTimer);
      budgetTimer = window.setTimeout(refreshBudget, 300);
    }
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(autosave, AUTOSAVE_AFTER);
  });
  form.addEventListener("change", function (event) {
    if (event.target.type === "file") {
      fileChosen = Boolean(event.target.files && event.target.files.length);
      return;
    }
    dirty = true;
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(autosave, AUTOSAVE_AFTER);
  });
  window.addEventListener("beforeunload", function (event) {
    if (sending || !(dirty || fileChosen)) { return undefined; }
    event.preventDefault();
    event.returnValue = "";
    return "";
  });

  // ---- One submission per click ------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending === "1") { event.preventDefault(); return; }
    if (!ordinary && form.dataset.saveUrl && saveButton && event.submitter === saveButton && !fileChosen &&
        !(removeInput && removeInput.value)) {
      event.preventDefault();
      saveInPlace();
      return;
    }
    form.dataset.sending = "1";
    sending = true;
    window.clearTimeout(saveTimer);
  });
  window.addEventListener("pageshow", function () { form.dataset.sending = ""; sending = false; });

  // ---- Removing an attachment asks first ----------------------------------------------------------------------
  var dialog = document.getElementById("remove-dialog");
  var pending = null;
  var opener = null;
  if (dialog && typeof dialog.showModal === "function" && removeInput && saveButton) {
    var text = document.getElementById("remove-dialog-text");
    form.querySelectorAll("[data-remove-attachment]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        pending = link.dataset.removeAttachment;
        opener = link;
        text.textContent = text.dataset.template.replace("%(name)s", link.dataset.name);
        dialog.showModal();
        document.getElementById("remove-dialog-cancel").focus();
      });
    });
    document.getElementById("remove-dialog-confirm").addEventListener("click", function () {
      removeInput.value = pending;
      dialog.close();
      form.requestSubmit(saveButton);
    });
    document.getElementById("remove-dialog-cancel").addEventListener("click", function () {
      pending = null;
      dialog.close();
    });
    dialog.addEventListener("cancel", function () { pending = null; });
    dialog.addEventListener("close", function () {
      if (!pending && opener) { opener.focus(); }
    });
  }
})();
