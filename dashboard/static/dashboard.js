// restaurant-bot dashboard: the only script. Pages work without it; it only refreshes the
// progress of jobs that are queued or running, every 2 seconds, from the page's own JSON
// (and, on the Batches page, the status of the batches those jobs analyze).
//
// The page's `[data-poll]` element names that JSON; inside it every `[data-job]` element
// (a table row, or a card) shows one job. A job may be shown in several places. When the
// JSON carries `words` (the owner's Jobs page: {jobId: {key: text}}), each `[data-word=key]`
// of the job gets that text and its status pill the `status` word; `[data-shown-when="a b"]`
// elements are shown only while the job's status is one of those.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var FINAL = { succeeded: true, failed: true, dead: true };

  function number(n) { return Number(n).toLocaleString("en-US"); }

  function update(row, job, words) {
    words = words || {};
    row.setAttribute("data-state", job.status);
    var status = row.querySelector("[data-status]");
    if (status) {
      status.textContent = words.status || job.status;
      status.className = "status status-" + job.status;
    }
    var bar = row.querySelector("[data-progress]");
    var total = job.progress.total, done = job.progress.done;
    if (bar) {
      bar.max = total || 1;
      bar.value = total ? done : (job.status === "succeeded" ? 1 : 0);
    }
    var text = row.querySelector("[data-progress-text]");
    if (text) {
      var words = total ? number(done) + " / " + number(total) : "";
      if (job.progress.step) { words += (words ? " · " : "") + job.progress.step; }
      text.textContent = words;
    }
    var attempts = row.querySelector("[data-attempts]");
    if (attempts) { attempts.textContent = number(job.attempts); }
    var error = row.querySelector("[data-error]");
    if (error) { error.textContent = job.error || ""; }
    Object.keys(words).forEach(function (key) {
      var places = row.querySelectorAll('[data-word="' + key + '"]');
      for (var i = 0; i < places.length; i++) { places[i].textContent = words[key]; }
    });
    var shown = row.querySelectorAll("[data-shown-when]");
    for (var j = 0; j < shown.length; j++) {
      shown[j].hidden = shown[j].getAttribute("data-shown-when").split(" ").indexOf(job.status) < 0;
    }
  }

  function updateBatch(row, batch) {
    var status = row.querySelector("[data-batch-status]");
    if (status) {
      status.textContent = batch.status;
      status.className = "status status-" + batch.status;
    }
    var analyzed = row.querySelector("[data-analyzed-at]");
    if (analyzed && batch.analyzedAt && !analyzed.querySelector("time")) {
      var time = document.createElement("time");
      time.setAttribute("datetime", batch.analyzedAt);
      time.textContent = batch.analyzedAt.slice(0, 16).replace("T", " ");
      analyzed.textContent = "";
      analyzed.appendChild(time);
    }
  }

  function unfinished(table) {
    var rows = table.querySelectorAll("[data-job]");
    for (var i = 0; i < rows.length; i++) {
      if (!FINAL[rows[i].getAttribute("data-state")]) { return true; }
    }
    return false;
  }

  function poll(table) {
    var note = document.querySelector("[data-poll-status]");
    if (!unfinished(table)) {
      if (note) { note.textContent = "Every job on this page has finished."; }
      return;
    }
    fetch(table.getAttribute("data-poll"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error("HTTP " + answer.status); }
        return answer.json();
      })
      .then(function (body) {
        body.data.forEach(function (job) {
          var rows = table.querySelectorAll('[data-job="' + job.id + '"]');
          for (var i = 0; i < rows.length; i++) { update(rows[i], job, (body.words || {})[job.id]); }
        });
        (body.batches || []).forEach(function (batch) {
          var row = table.querySelector('tr[data-batch="' + batch.id + '"]');
          if (row) { updateBatch(row, batch); }
        });
        if (note) { note.textContent = "Updated " + new Date().toLocaleTimeString(); }
        window.setTimeout(function () { poll(table); }, POLL_MS);
      })
      .catch(function () {
        if (note) { note.textContent = "Could not refresh; reload the page."; }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.querySelector("[data-poll]");
    if (table) { window.setTimeout(function () { poll(table); }, POLL_MS); }
  });
})();
