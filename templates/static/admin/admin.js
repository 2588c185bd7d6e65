// crieur admin UI: the few things that need a script. Every page works
// without it; this adds the live notification preview and audience count
// of the alert composer, the live progress of an alert, confirmations and
// a guard against double submission.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "fr";
  var fmt = new Intl.NumberFormat(lang === "fr" ? "fr-FR" : "en-GB");

  // Confirmation for destructive forms, and one submission per form.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
    if (f.hasAttribute("data-once")) {
      if (f.dataset.sent) { ev.preventDefault(); return; }
      f.dataset.sent = "1";
      setTimeout(function () {
        f.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  });

  // The alert composer: live preview and audience.
  var form = document.getElementById("alert-form");
  if (form) {
    var set = function (name, value) {
      document.querySelectorAll('[data-preview="' + name + '"]').forEach(function (el) {
        if (name === "image") {
          if (/^https:\/\//.test(value)) { el.src = value; el.hidden = false; } else { el.hidden = true; el.removeAttribute("src"); }
        } else {
          el.textContent = value;
        }
      });
    };
    var host = function (u) { try { return new URL(u).hostname; } catch (e) { return ""; } };
    form.addEventListener("input", function (ev) {
      var b = ev.target.getAttribute("data-bind");
      if (b === "url") set("host", host(ev.target.value));
      else if (b) set(b, ev.target.value);
    });
    var out = document.getElementById("audience");
    var quiet = document.getElementById("quiet-now");
    var timer = null;
    var refresh = function () {
      var q = new URLSearchParams();
      form.querySelectorAll('input[name="topics"]:checked').forEach(function (c) { q.append("topic", c.value); });
      var prio = form.querySelector('input[name="priority"]:checked');
      if (prio) q.append("priority", prio.value);
      if (form.elements.ttl) q.append("ttl", form.elements.ttl.value);
      fetch(form.getAttribute("data-audience") + "?" + q.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (j && out) out.textContent = j.text;
          // Browsers in quiet hours now, for the priority and lifetime chosen.
          if (j && quiet) {
            quiet.textContent = "";
            (j.timing || []).forEach(function (t) {
              var p = document.createElement("p");
              p.className = "hint";
              p.textContent = t;
              quiet.appendChild(p);
            });
            quiet.hidden = !(j.timing && j.timing.length);
          }
        })
        .catch(function () {});
    };
    form.addEventListener("change", function (ev) {
      if (ev.target.name === "topics" || ev.target.name === "priority" || ev.target.name === "ttl") {
        clearTimeout(timer); timer = setTimeout(refresh, 150);
      }
    });
  }

  // An alert's progress: poll its status every second until it is final.
  var box = document.getElementById("progress");
  var opened = Date.now();
  if (box) {
    var url = box.getAttribute("data-status");
    var field = function (n) { return box.querySelector('[data-field="' + n + '"]'); };
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (s) {
          ["targeted", "delivered", "failed", "expired", "emails", "emails_sent", "shown", "clicked"].forEach(function (k) {
            var el = field(k);
            if (el) el.textContent = fmt.format(s[k]);
          });
          var p = field("progress");
          if (p) { p.max = s.targeted || 1; p.value = s.processed; }
          var l = field("label");
          if (l && l.textContent !== s.label) { l.textContent = s.label; l.className = "badge state-" + s.state; }
          box.setAttribute("data-state", s.state);
          if (s.final) {
            box.setAttribute("data-final", "true");
            document.querySelectorAll("[data-hide-final]").forEach(function (el) { el.hidden = true; });
            // Browsers keep reporting the alert shown and opened after
            // the fan-out: keep counting, more slowly, for an hour.
            if (Date.now() - opened < 3600000) setTimeout(tick, 5000);
            return;
          }
          setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 3000); });
    };
    setTimeout(tick, 500);
  }
})();
