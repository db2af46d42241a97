// The dashboard header: the Settings menu (a <details>) closes with Escape, returning focus to its
// button, and when the pointer or focus goes elsewhere.
(function () {
  "use strict";
  var menus = document.querySelectorAll(".menu details");

  function close(menu, refocus) {
    if (!menu.open) { return; }
    menu.open = false;
    if (refocus) { menu.querySelector("summary").focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    menus.forEach(function (menu) {
      if (menu.open) {
        close(menu, true);
        event.preventDefault();
      }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (!menu.contains(event.target)) { close(menu, false); }
    });
  });
  menus.forEach(function (menu) {
    menu.addEventListener("focusout", function (event) {
      if (event.relatedTarget && !menu.contains(event.relatedTarget)) { close(menu, false); }
    });
  });
})();
