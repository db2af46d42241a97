// Copy buttons, and "Generate SCIM token" disabled until the required fields are filled.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); document.execCommand("copy"); done(); });
      } else {
        field.select();
        document.execCommand("copy");
        done();
      }
    });
  });
  var form = document.getElementById("scim-settings");
  var generate = document.getElementById("generate-token");
  if (form && generate) {
    var required = form.querySelectorAll("[required]");
    var update = function () {
      var ready = Array.prototype.every.call(required, function (el) { return el.value.trim() !== ""; });
      generate.disabled = !ready;
      generate.setAttribute("aria-disabled", String(!ready));
    };
    required.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
    update();
  }
})();
