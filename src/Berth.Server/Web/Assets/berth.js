// Berth web UI: the one script. Everything works without it; it adds copy buttons, confirmation
// dialogs, select-all for tag lists, sort-on-change and path suggestions.
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 30); }
  }

  // ---- copy buttons: <button class="copy" data-copy="text"> or data-copy-from="#id" ----
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  function copied(button) {
    button.setAttribute("data-copied", "");
    announce("Copied to the clipboard");
    window.setTimeout(function () { button.removeAttribute("data-copied"); }, 1600);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    event.preventDefault();
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var source = document.querySelector(button.getAttribute("data-copy-from"));
      text = source ? (source.value !== undefined ? source.value : source.textContent) : "";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () { if (fallbackCopy(text)) copied(button); });
    } else if (fallbackCopy(text)) {
      copied(button);
    }
  });

  // ---- confirmation dialogs: a submit button (or form) with data-confirm="message" ----
  var dialog = document.getElementById("confirm-dialog");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : (form.hasAttribute("data-confirm") ? form : null);
    if (!source || form.getAttribute("data-confirmed") === "1" || !dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    var message = source.getAttribute("data-confirm");
    if (source.hasAttribute("data-confirm-selected")) {
      var names = Array.prototype.map.call(form.querySelectorAll("input[name='selected']:checked"), function (box) { return box.value; });
      if (names.length === 0) { announce("Select at least one tag first"); return; }
      message = (names.length === 1 ? "Delete the tag " : "Delete " + names.length + " tags: ") + names.join(", ") + "? " + source.getAttribute("data-confirm");
    }
    dialog.querySelector("[data-dialog-title]").textContent = source.getAttribute("data-confirm-title") || "Are you sure?";
    dialog.querySelector("[data-dialog-message]").textContent = message;
    dialog.querySelector("[data-dialog-ok]").textContent = source.getAttribute("data-confirm-button") || "Delete";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue !== "ok") return;
      var flag = document.createElement("input");
      flag.type = "hidden"; flag.name = "confirmed"; flag.value = "yes";
      form.appendChild(flag);
      form.setAttribute("data-confirmed", "1");
      if (submitter && typeof form.requestSubmit === "function") form.requestSubmit(submitter); else form.submit();
    };
    dialog.showModal();
  });

  // ---- select all / bulk bar ----
  function updateBulk(form) {
    var boxes = form.querySelectorAll("input[name='selected']");
    var checked = form.querySelectorAll("input[name='selected']:checked").length;
    var all = form.querySelector("[data-select-all]");
    if (all) { all.checked = checked > 0 && checked === boxes.length; all.indeterminate = checked > 0 && checked < boxes.length; }
    var count = form.querySelector("[data-selected-count]");
    if (count) count.textContent = checked === 0 ? "No tags selected" : checked === 1 ? "1 tag selected" : checked + " tags selected";
    var button = form.querySelector("[data-confirm-selected]");
    if (button) button.disabled = checked === 0;
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      var form = target.form;
      Array.prototype.forEach.call(form.querySelectorAll("input[name='selected']"), function (box) { box.checked = target.checked; });
      updateBulk(form);
    } else if (target.matches("input[name='selected']")) {
      updateBulk(target.form);
    } else if (target.matches("[data-autosubmit]")) {
      target.form.submit();
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("form[data-bulk]"), updateBulk);

  // ---- path suggestions from a name: <input data-path-from="#name"> ----
  Array.prototype.forEach.call(document.querySelectorAll("[data-path-from]"), function (path) {
    var name = document.querySelector(path.getAttribute("data-path-from"));
    if (!name) return;
    var touched = path.value !== "";
    path.addEventListener("input", function () { touched = path.value !== ""; });
    name.addEventListener("input", function () {
      if (touched) return;
      path.value = name.value.trim().toLowerCase().replace(/\s+/g, "-").replace(/[^a-z0-9_.-]/g, "").replace(/^[-.]+/, "");
    });
  });
})();
