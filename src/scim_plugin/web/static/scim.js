// SCIM Provisioning page: copy buttons, confirmations, "Generate SCIM token" enabled only when the
// required fields are filled, the error summary focused, and pages answering a POST (the one-time token,
// a refused form) kept out of the history.
(function () {
  "use strict";

  // A page that shows a new token (or a refused form) answers a POST. Point its history entry at the
  // page's GET URL, so a reload or a later "Back" fetches the page again (token masked) instead of
  // resubmitting the form.
  var root = document.querySelector("[data-replace-url]");
  if (root && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", root.getAttribute("data-replace-url"));
  }

  // A refused form: focus the error summary (it also carries autofocus, for when this script is late),
  // and let each of its links put the cursor in the field it names.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.querySelectorAll("a[data-focus]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("data-focus"));
        if (!field) { return; }
        event.preventDefault();
        field.focus();
        field.scrollIntoView({ block: "center" });
      });
    });
  }

  // Browsers without CSS field-sizing: grow the token's box to show all of it.
  document.querySelectorAll("textarea.token-block").forEach(function (box) {
    if (box.scrollHeight > box.clientHeight) { box.style.height = box.scrollHeight + 2 + "px"; }
  });

  function fallbackCopy(field) {
    // A value shown as text (a setup guide's <code>) is copied through a temporary field.
    var source = "value" in field ? field : document.createElement("textarea");
    if (source !== field) {
      source.value = field.textContent;
      source.setAttribute("readonly", "");
      source.style.position = "fixed";
      source.style.opacity = "0";
      document.body.appendChild(source);
    }
    source.focus();
    source.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    } finally {
      if (source !== field) { document.body.removeChild(source); }
    }
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var status = document.getElementById(field.id + "-copied");
      var timer;
      var report = function (ok) {
        button.classList.toggle("is-copied", ok);
        button.firstChild.nodeValue = ok ? "Copied" : "Copy";
        if (status) {
          status.textContent = ok ? "Copied to the clipboard." : "Press Ctrl+C (or \u2318C) to copy.";
        }
        clearTimeout(timer);
        timer = setTimeout(function () {
          button.classList.remove("is-copied");
          button.firstChild.nodeValue = "Copy";
          if (status) { status.textContent = ""; }
        }, 2500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText("value" in field ? field.value : field.textContent).then(
          function () { report(true); },
          function () { report(fallbackCopy(field)); }
        );
      } else {
        report(fallbackCopy(field));
      }
    });
  });

  // Reset, Disable and a switch of provisioning method ask first; the server asks on the page itself when this script does not run.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (window.confirm(form.getAttribute("data-confirm"))) {
        form.querySelector("input[name=confirm]").value = "yes";
      } else {
        event.preventDefault();
      }
    });
  });

  // Right after a token is generated, the connection test uses it without a paste.
  var fresh = document.getElementById("scim-token-new");
  var tested = document.getElementById("test-token");
  if (fresh && tested && !tested.value) { tested.value = fresh.value; }

  var settings = document.getElementById("scim-settings");
  var generate = document.getElementById("generate-token");
  if (settings && generate) {
    var required = settings.querySelectorAll("[required]");
    var help = document.getElementById("generate-help");
    var update = function () {
      var ready = Array.prototype.every.call(required, function (el) { return el.value.trim() !== ""; });
      generate.disabled = !ready;
      if (help) { help.hidden = ready; }
    };
    required.forEach(function (el) {
      el.addEventListener("input", update);
      el.addEventListener("change", update);
    });
    update();
  }
})();
