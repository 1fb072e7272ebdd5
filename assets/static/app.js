// postdeck console: small enhancements only. Every page works without
// this file; the Content-Security-Policy allows no inline script.
"use strict";
(function () {
  // Confirm dialogs: <form data-confirm="Question?">.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    // A submit button may ask its own question (a row's Delete).
    if (ev.submitter && ev.submitter.getAttribute("data-confirm-click")) {
      question = ev.submitter.getAttribute("data-confirm-click");
    }
    // A second click while the first submission is on its way (a
    // double click, an impatient one on a slow apply) would send the
    // form again: Send Mail queued the message twice, and a save would
    // be answered by its own second request, refused as stale.
    var post = (form.getAttribute("method") || "").toLowerCase() === "post";
    if (post && form.hasAttribute("data-submitted")) {
      ev.preventDefault();
      return;
    }
    if (question && !window.confirm(question)) {
      ev.preventDefault();
      return;
    }
    if (post) {
      form.setAttribute("data-submitted", "");
    }
    // One apply at a time: show that the click was taken.
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.add("busy");
    }
  });

  // A page the browser keeps and shows again (Back) may be sent again.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) {
      return;
    }
    var sent = document.querySelectorAll("form[data-submitted]");
    for (var i = 0; i < sent.length; i++) {
      sent[i].removeAttribute("data-submitted");
      var busy = sent[i].querySelectorAll("button.busy");
      for (var j = 0; j < busy.length; j++) {
        busy[j].classList.remove("busy");
      }
    }
  });

  // Edit Main Config: select the line the error names.
  var editor = document.querySelector("textarea[data-error-line]");
  if (editor) {
    var line = parseInt(editor.getAttribute("data-error-line"), 10);
    var lines = editor.value.split("\n");
    if (line > 0 && line <= lines.length) {
      var start = 0;
      for (var n = 0; n < line - 1; n++) {
        start += lines[n].length + 1;
      }
      editor.focus();
      editor.setSelectionRange(start, start + lines[line - 1].length);
      var lineHeight = parseFloat(window.getComputedStyle(editor).lineHeight) || 18;
      editor.scrollTop = Math.max(0, (line - 4) * lineHeight);
    }
  }

  // A refused form: the keyboard (and a screen reader) starts at the
  // first field the server marked, not at the top of the page. A page
  // that names its own field (autofocus, which the browser applies after
  // this script) or has focused one (the editor above) keeps it.
  if (!document.querySelector("[autofocus]") && (!document.activeElement || document.activeElement === document.body)) {
    var bad = document.querySelector(
      "[aria-invalid=true], .has-error input:not([type=hidden]), .has-error textarea, .has-error select");
    if (bad) {
      bad.focus();
    }
  }
})();

// ---- MPA queue (page_mpa_queue.go): auto-refresh that can be paused ----
// <button id="refresh-toggle" data-refresh-target="ID" data-refresh-seconds="N" hidden>:
// every N seconds, while the tab is visible and not paused, fetch this page
// again and swap the element ID. Without JavaScript the button stays
// hidden and the page has a plain Refresh link.
(function () {
  var toggle = document.getElementById("refresh-toggle");
  if (!toggle || !window.fetch || !window.DOMParser) {
    return;
  }
  var targetID = toggle.getAttribute("data-refresh-target");
  var seconds = parseInt(toggle.getAttribute("data-refresh-seconds"), 10) || 5;
  var paused = false;
  var stopped = false;
  var busy = false;
  toggle.hidden = false;
  toggle.setAttribute("aria-pressed", "false");
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume auto-refresh" : "Pause auto-refresh";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
  });
  var refresh = function () {
    if (paused || stopped || busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) {
        if (!resp.ok || resp.redirected) {
          stopped = true; // logged out or not allowed: stop asking
          return null;
        }
        return resp.text();
      })
      .then(function (html) {
        busy = false;
        if (!html || paused) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(targetID);
        var old = document.getElementById(targetID);
        if (fresh && old) {
          old.replaceWith(document.importNode(fresh, true));
        }
      })
      .catch(function () {
        busy = false;
        stopped = true;
      });
  };
  window.setInterval(refresh, seconds * 1000);
})();

// ---- MPA repository (page_repository.go): a "select all" box ----
(function () {
  var all = document.getElementById("select-all");
  var form = document.getElementById("repository-form");
  if (!all || !form) {
    return;
  }
  all.hidden = false;
  all.addEventListener("change", function () {
    var boxes = form.querySelectorAll("input[type=checkbox][name=id]");
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].checked = all.checked;
    }
  });
})();

// ---- MTA Queue page and message view (page_queue*.go) ----
// Select all on page, the confirmation dialog of the action bar, and the
// auto-refresh that can be paused. Without JavaScript the page works the
// same: the scope radio buttons replace "select all", the server shows a
// confirmation page, and the page does not refresh itself.
(function () {
  function rowBoxes(form) {
    return form.querySelectorAll("input.row-select");
  }

  function updateSelection(form) {
    var boxes = rowBoxes(form);
    var n = 0;
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) {
        n++;
      }
      var row = boxes[i].closest("tr");
      if (row) {
        row.classList.toggle("selected", boxes[i].checked);
      }
    }
    var all = form.querySelector("#select-page");
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    var count = document.getElementById("selected-count");
    if (count) {
      count.textContent = n ? "(" + n + ")" : "";
    }
    return n;
  }

  function setupList() {
    var form = document.getElementById("queue-form");
    if (!form) {
      return;
    }
    var all = form.querySelector("#select-page");
    if (all) {
      all.hidden = false;
    }
    updateSelection(form);
  }
  setupList();

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    var form = t.form;
    // getAttribute: the form's "id" and "action" properties are its
    // fields of those names.
    if (!form || form.getAttribute("id") !== "queue-form") {
      return;
    }
    if (t.id === "select-page") {
      var boxes = rowBoxes(form);
      for (var i = 0; i < boxes.length; i++) {
        boxes[i].checked = t.checked;
      }
    }
    if (t.id === "select-page" || t.classList.contains("row-select")) {
      if (updateSelection(form) > 0) {
        var sel = form.querySelector("#scope-selected");
        if (sel) {
          sel.checked = true;
        }
      }
    }
  });

  // The action bar: one confirm() naming the action, how many messages,
  // and the documentation's words; confirmed=1 then skips the server's
  // confirmation page. Runs in the capture phase, before the generic
  // submit handler above, so that a cancel stops both.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("queue-actions")) {
      return;
    }
    var button = ev.submitter;
    var confirmed = form.querySelector(".confirmed-field");
    if (confirmed) {
      confirmed.value = "";
    }
    if (!button || !button.getAttribute("data-label")) {
      return;
    }
    var stop = function () {
      ev.preventDefault();
      ev.stopPropagation();
    };
    var label = button.getAttribute("data-label");
    var what;
    var n;
    if (form.classList.contains("single")) {
      n = 1;
      what = "message " + form.querySelector("input[name=id]").value;
    } else {
      var scopeInput = form.querySelector("input[name=scope]:checked");
      var scope = scopeInput ? scopeInput.value : "selected";
      if (scope === "all") {
        n = parseInt(form.getAttribute("data-total"), 10) || 0;
        what = "all " + n + " messages matching this filter";
      } else if (scope === "page") {
        n = form.querySelectorAll("input[name=page_id]").length;
        what = "all " + n + " messages on this page";
      } else {
        n = form.querySelectorAll("input.row-select:checked").length;
        what = n === 1 ? "the selected message" : "the " + n + " selected messages";
      }
    }
    if (n === 0) {
      stop();
      var note = document.getElementById("action-note");
      if (note) {
        note.textContent = "Select at least one message first, or choose all messages matching this filter.";
        note.classList.add("attention");
      }
      return;
    }
    var question = label + " " + what + "?\n\n" + (button.getAttribute("data-help") || "");
    if (!window.confirm(question)) {
      stop();
      return;
    }
    if (confirmed) {
      confirmed.value = "1";
    }
  }, true);

  // Auto-refresh: every N seconds fetch this very page and swap in the
  // summary and the listing, unless paused, the tab is hidden, messages
  // are selected or the user is typing in the list.
  var toggle = document.getElementById("auto-refresh");
  if (!toggle || !window.fetch || !window.DOMParser) {
    return;
  }
  var seconds = parseInt(toggle.getAttribute("data-seconds"), 10) || 15;
  var state = document.getElementById("refresh-state");
  var paused = false;
  var stopped = false;
  try {
    paused = window.sessionStorage.getItem("postdeck-queue-refresh") === "paused";
  } catch (e) {
    paused = false;
  }
  var show = function (msg) {
    toggle.textContent = paused ? "Resume auto-refresh" : "Pause auto-refresh";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    if (state) {
      state.textContent = msg || (paused ? "Auto-refresh is paused." : "Refreshes every " + seconds + " s.");
    }
  };
  toggle.hidden = false;
  show();
  toggle.addEventListener("click", function () {
    paused = !paused;
    try {
      window.sessionStorage.setItem("postdeck-queue-refresh", paused ? "paused" : "on");
    } catch (e) {
      // private mode: the choice lasts for this page only
    }
    show();
  });
  var selecting = function () {
    if (document.querySelector("input.row-select:checked")) {
      return true;
    }
    var a = document.activeElement;
    var list = document.getElementById("queue-list");
    return !!(a && list && list.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName));
  };
  var refresh = function () {
    if (paused || stopped || document.hidden) {
      return;
    }
    if (selecting()) {
      show("Auto-refresh waits while messages are selected.");
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) {
        if (!resp.ok || resp.redirected) {
          stopped = true;
          show("Auto-refresh stopped: reload the page.");
          return null;
        }
        return resp.text();
      })
      .then(function (html) {
        if (!html || paused || selecting()) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var regions = document.querySelectorAll(".live-region");
        for (var i = 0; i < regions.length; i++) {
          var fresh = doc.getElementById(regions[i].id);
          if (fresh) {
            var node = document.importNode(fresh, true);
            if (regions[i].tagName === "DETAILS") {
              node.open = regions[i].open; // as the user left it
            }
            regions[i].replaceWith(node);
          }
        }
        var asOf = doc.getElementById("as-of");
        var cur = document.getElementById("as-of");
        if (asOf && cur) {
          cur.textContent = asOf.textContent;
          cur.setAttribute("datetime", asOf.getAttribute("datetime"));
        }
        setupList();
        show();
      })
      .catch(function () {
        stopped = true;
        show("Auto-refresh stopped: reload the page.");
      });
  };
  window.setInterval(refresh, seconds * 1000);
})();

// A console session ends after its idle timeout without a request, and
// typing in a form sends none: a long edit of the main config would find
// the session ended at its save, and the text lost on the way to the
// login page. While the user types, the session is renewed (GET
// /api/v1/session), at most every data-keepalive-ms milliseconds (a third
// of the idle timeout). A form nobody types in ends its session as
// before.
(function () {
  var every = parseInt(document.body.getAttribute("data-keepalive-ms") || "0", 10);
  if (!(every > 0)) {
    return;
  }
  var last = Date.now(); // the page's own request renewed the session
  document.addEventListener("input", function () {
    var now = Date.now();
    if (now - last < every) {
      return;
    }
    last = now;
    window.fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" }).catch(function () {});
  });
})();
