// Alsek dashboard: live refresh and select-all, nothing else (pages work without it).
//
// Every `refresh` seconds (the <main data-refresh> attribute) the page is fetched
// again and its <main> swapped in, unless the reader is busy with it: a field has
// the focus, a box is ticked, a traceback is open, or the tab is hidden. The
// Pause button stops and restarts this (remembered for the browser session).
(function () {
  "use strict";
  var PAUSED = "alsek-dashboard-paused";

  function paused() {
    return window.sessionStorage.getItem(PAUSED) === "1";
  }

  function busy(main) {
    if (document.hidden || paused()) return true;
    var active = document.activeElement;
    if (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return true;
    return main.querySelector("input[type=checkbox]:checked, details[open]") !== null;
  }

  function bindSelectAll(root) {
    root.querySelectorAll("input[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        var name = box.getAttribute("data-select-all");
        document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(
          function (other) { other.checked = box.checked; });
      });
    });
  }

  function refresh() {
    var main = document.querySelector("main[data-refresh]");
    if (!main || busy(main)) return;
    fetch(window.location.href, {credentials: "same-origin", redirect: "manual"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || busy(main)) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (fresh) {
          main.innerHTML = fresh.innerHTML;
          bindSelectAll(main);
        }
      })
      .catch(function () { /* the next round tries again */ });
  }

  function showPause(button) {
    button.textContent = paused() ? "Resume" : "Pause";
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindSelectAll(document);
    var button = document.getElementById("pause");
    if (button) {
      showPause(button);
      button.addEventListener("click", function () {
        window.sessionStorage.setItem(PAUSED, paused() ? "0" : "1");
        showPause(button);
      });
    }
    var main = document.querySelector("main[data-refresh]");
    var seconds = main ? parseFloat(main.getAttribute("data-refresh")) : 0;
    if (seconds > 0) window.setInterval(refresh, seconds * 1000);
  });
}());
