// tidegate console: live updates over server-sent events, deadline countdowns. No framework.
// Every page works without this script; it only keeps pages current.
"use strict";

(function () {
  const status = document.getElementById("live");

  function say(ok) {
    if (!status) return;
    status.className = "live " + (ok ? "ok" : "lost");
    status.textContent = ok ? status.dataset.ok : status.dataset.lost;
  }

  // -- live regions: elements with data-live="<fragment url>" are fetched again on change --
  const pending = new Set();

  function busy(region) {
    const active = document.activeElement;
    return active && region.contains(active) &&
      ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName) && active.value !== "";
  }

  async function refresh(region) {
    if (busy(region)) { pending.add(region); return; }
    try {
      const answer = await fetch(region.dataset.live, {
        headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store",
      });
      if (!answer.ok) return;
      const html = await answer.text();
      if (busy(region)) { pending.add(region); return; }
      const focused = document.activeElement && document.activeElement.id;
      region.innerHTML = html;
      region.dataset.version = String(Number(region.dataset.version || 0) + 1);
      if (focused) {
        const again = document.getElementById(focused);
        if (again) again.focus();
      }
      countdowns();
      document.dispatchEvent(new CustomEvent("tidegate:refreshed", { detail: region }));
    } catch (e) {
      // the server is away; the event stream's reconnect will refresh again
    }
  }

  function refreshAll() {
    document.querySelectorAll("[data-live]").forEach(refresh);
  }

  document.addEventListener("focusout", function () {
    setTimeout(function () {
      pending.forEach(function (region) { pending.delete(region); refresh(region); });
    }, 0);
  });

  let timer = null;
  function soon() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refreshAll(); }, 100);
  }

  if (document.querySelector("[data-live]") && window.EventSource) {
    let lost = false;
    const source = new EventSource("/events");
    source.addEventListener("hello", function () {
      say(true);
      if (lost) { lost = false; soon(); }
    });
    source.addEventListener("change", function () { say(true); soon(); });
    source.onerror = function () { lost = true; say(false); };
  }

  // -- countdowns: data-deadline="<ISO instant>" shows the time left, every second --
  function left(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
    return (h ? h + ":" + mm : m) + ":" + ss;
  }

  function countdowns() {
    const now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      const due = Date.parse(el.dataset.deadline);
      if (isNaN(due)) return;
      const ms = due - now;
      if (ms >= 0) {
        el.textContent = left(ms);
        el.classList.remove("late");
      } else {
        el.textContent = el.dataset.late + " " + left(ms);
        el.classList.add("late");
      }
    });
  }
  countdowns();
  setInterval(countdowns, 1000);

  // -- buttons that need a confirmation step (cancel a warning) --
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.dataset && form.dataset.confirm;
    const button = event.submitter;
    if (question && (!button || !button.formAction || !button.formAction.endsWith("/preview"))) {
      if (!window.confirm(question)) event.preventDefault();
    }
  });
})();
