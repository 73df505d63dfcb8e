// Tdjaasa dashboard: progressive enhancement only; every page works without it.
// - [data-live]: follow /app/events (Server-Sent Events) and refresh the page's [data-region] parts in place.
// - [data-wa-events]: WhatsApp linking screen: QR codes and status as they come.
// - form[data-async]: post without leaving the page (test chat, manual reply), then refresh the regions.
// - [data-confirm]: ask before a destructive action.
(function () {
  "use strict";
  var pending = null;
  var after = [];
  function refresh(then) {
    if (typeof then === "function") after.push(then);
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-region]").forEach(function (el) {
            var fresh = doc.getElementById(el.id);
            if (fresh && fresh.innerHTML !== el.innerHTML) {
              el.innerHTML = fresh.innerHTML;
              if (el.hasAttribute("data-scroll")) el.scrollTop = el.scrollHeight;
            }
          });
          after.splice(0).forEach(function (f) { f(); });
        })
        .catch(function () {});
    }, 250);
  }
  function follow(url, handlers) {
    if (!window.EventSource) return;
    var source = new EventSource(url);
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (e) { handlers[name](e.data ? JSON.parse(e.data) : {}); });
    });
  }
  var live = document.querySelector("[data-live]");
  if (live) {
    var kinds = (live.getAttribute("data-live") || "").split(" ").filter(Boolean);
    var handlers = {};
    kinds.forEach(function (k) { handlers[k] = refresh; });
    follow("/app/events", handlers);
  }
  if (document.querySelector("[data-wa-events]")) {
    // The QR code is never stored server-side: keep the latest one and paint it again after each refresh.
    var shown = { qr: null, code: null };
    var paint = function () {
      var qr = document.getElementById("wa-qr");
      if (qr && shown.qr) { qr.innerHTML = shown.qr; qr.hidden = false; }
      var code = document.getElementById("wa-code");
      if (code && shown.code) { code.textContent = shown.code; code.hidden = false; }
    };
    follow("/app/whatsapp/events", {
      status: function (d) {
        if (d.status && d.status !== "waiting_for_scan") { shown.qr = null; shown.code = null; }
        refresh(paint);
      },
      qr: function (d) { if (d.svg) { shown.qr = d.svg; paint(); } },
      pairing_code: function (d) { if (d.code) { shown.code = d.code; paint(); } }
    });
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { e.preventDefault(); return; }
    if (!form.hasAttribute("data-async") || !window.fetch) return;
    e.preventDefault();
    // A form that may carry a file (test chat) posts as multipart; the others as a plain form.
    var data = new FormData(form);
    var body = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data);
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Async": "1" } })
      .then(function (r) {
        if (r.ok) {
          form.querySelectorAll("input[type=file]").forEach(function (f) { f.value = ""; });
          var t = form.querySelector("[name=text]"); if (t) { t.value = ""; t.focus(); }
          refresh();
        }
        else { form.submit(); }
      })
      .catch(function () { form.submit(); })
      .finally(function () { if (button) button.disabled = false; });
  });
  document.querySelectorAll("[data-scroll]").forEach(function (el) { el.scrollTop = el.scrollHeight; });
})();
