// Clade dashboard: live refresh of a running run's page (polling, no build step).
// The server renders every fragment with its text escaped; this script only swaps it in.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var run = encodeURIComponent(live.dataset.run);
  var delay = parseInt(live.dataset.pollMs, 10) || 2000;
  var status = live.dataset.status;

  function schedule() {
    if (status === "running") {
      window.setTimeout(tick, delay);
    } else {
      live.dataset.polling = "stopped";
    }
  }

  function tick() {
    fetch("/api/runs/" + run + "/state", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) return null;
        status = state.status;
        if (state.version === live.dataset.version) return null;
        return fetch("/runs/" + run + "/live").then(function (r) {
          if (!r.ok) return;
          return r.text().then(function (html) {
            live.innerHTML = html;
            live.dataset.version = state.version;
            live.dataset.status = state.status;
            live.dataset.refreshes = String((parseInt(live.dataset.refreshes, 10) || 0) + 1);
          });
        });
      })
      .catch(function () { /* the server may be restarting: try again next time */ })
      .then(schedule);
  }

  live.dataset.polling = status === "running" ? "on" : "stopped";
  schedule();
})();
