/* musicsite: small progressive enhancements. Every page works without this file.
 *
 * - players: a native <audio> inside [data-player] becomes a play button, a seek bar, a
 *   clock and (with data-tempo) a tempo slider that sets playbackRate, pitch kept.
 * - polling: [data-poll="url"] fetches JSON every data-poll-interval ms until `done`, and
 *   fills [data-text=name] (text), [data-html=name] (server-rendered, escaped HTML; a
 *   [data-keyed] region is merged child by child so a playing card keeps playing).
 * - cards still rendering their audio ([data-rendering]) are swapped in once it exists; a
 *   player whose sound is still being made (202) tries again after its Retry-After.
 * - filter forms with data-autosubmit submit when a select or checkbox changes.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var ICON_PLAY = '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M4 2.5v11l9.5-5.5z" fill="currentColor"/></svg>';
  var ICON_PAUSE = '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M3.5 2.5h3v11h-3zM9.5 2.5h3v11h-3z" fill="currentColor"/></svg>';
  var uid = 0;

  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function clock(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "0:00";
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  /* ---------------- players ---------------- */
  function enhancePlayer(root) {
    if (root.classList.contains("is-enhanced")) return;
    var audio = root.querySelector("audio");
    if (!audio) return;
    root.classList.add("is-enhanced");
    audio.controls = false;
    var title = root.getAttribute("data-title") || "this tune";
    var ui = el("div", "player-ui");
    var button = el("button", "player-toggle", { type: "button", "aria-label": "Play " + title });
    button.innerHTML = ICON_PLAY;
    var track = el("div", "player-track");
    var seek = el("input", "player-seek", {
      type: "range", min: "0", max: "1000", step: "1", value: "0",
      "aria-label": "Position in " + title, "aria-valuetext": "0:00"
    });
    var time = el("span", "player-time");
    time.textContent = "0:00";
    var status = el("span", "player-status", { "aria-live": "polite" });
    track.appendChild(seek);
    track.appendChild(time);
    ui.appendChild(button);
    ui.appendChild(track);
    ui.appendChild(status);

    if (root.hasAttribute("data-tempo")) {
      var id = "tempo-" + (++uid);
      var tempo = el("div", "player-tempo");
      var label = el("label", "", { for: id });
      label.textContent = "Tempo";
      var range = el("input", "", { type: "range", id: id, min: "50", max: "150", step: "5", value: "100" });
      var out = el("output", "", { for: id });
      out.textContent = "100%";
      range.addEventListener("input", function () {
        var rate = Number(range.value) / 100;
        audio.preservesPitch = true;
        audio.playbackRate = rate;
        out.textContent = range.value + "%";
      });
      tempo.appendChild(label);
      tempo.appendChild(range);
      tempo.appendChild(out);
      ui.appendChild(tempo);
    }
    root.appendChild(ui);

    function showTime() {
      var d = audio.duration;
      time.textContent = clock(audio.currentTime) + (isFinite(d) && d > 0 ? " / " + clock(d) : "");
      if (isFinite(d) && d > 0 && !seeking) seek.value = String(Math.round(audio.currentTime / d * 1000));
      seek.setAttribute("aria-valuetext", clock(audio.currentTime));
    }
    function showState() {
      var playing = !audio.paused && !audio.ended;
      button.innerHTML = playing ? ICON_PAUSE : ICON_PLAY;
      button.setAttribute("aria-label", (playing ? "Pause " : "Play ") + title);
      root.classList.toggle("is-playing", playing);
    }
    var seeking = false;
    button.addEventListener("click", function () {
      if (audio.paused || audio.ended) {
        if (audio.readyState < 2) status.textContent = "loading…";
        var p = audio.play();
        if (p && p.catch) p.catch(function () { /* error event says why */ });
      } else {
        audio.pause();
      }
    });
    seek.addEventListener("input", function () {
      seeking = true;
      if (isFinite(audio.duration)) audio.currentTime = Number(seek.value) / 1000 * audio.duration;
    });
    seek.addEventListener("change", function () { seeking = false; });
    audio.addEventListener("play", function () {
      document.querySelectorAll("[data-player] audio").forEach(function (other) {
        if (other !== audio && !other.paused) other.pause();
      });
      showState();
    });
    ["pause", "ended", "playing"].forEach(function (ev) { audio.addEventListener(ev, showState); });
    ["timeupdate", "durationchange", "loadedmetadata"].forEach(function (ev) { audio.addEventListener(ev, showTime); });
    audio.addEventListener("waiting", function () { status.textContent = "loading…"; });
    ["playing", "canplay", "loadedmetadata"].forEach(function (ev) {
      audio.addEventListener(ev, function () { status.textContent = ""; });
    });
    // A sound the worker is still making answers 202 with Retry-After (no request renders
    // audio): the player says so and tries again then, playing if it was asked to.
    var retries = 0, wanted = false;
    button.addEventListener("click", function () { wanted = !audio.paused; });  // after the handler above
    audio.addEventListener("error", function () {
      var src = audio.currentSrc || audio.getAttribute("src");
      if (!src || !window.fetch || retries >= 40) {
        status.textContent = "audio unavailable";
        showState();
        return;
      }
      fetch(src, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" }).then(function (r) {
        if (r.status !== 202) throw new Error(String(r.status));
        retries += 1;
        status.textContent = "preparing audio…";
        var wait = Math.min(Math.max(Number(r.headers.get("Retry-After")) || 3, 1), 30);
        setTimeout(function () {
          audio.load();
          if (wanted) { var p = audio.play(); if (p && p.catch) p.catch(function () {}); }
        }, wait * 1000);
      }).catch(function () {
        status.textContent = "audio unavailable";
        showState();
      });
    });
    if (audio.preload !== "none" && audio.readyState === 0 && !audio.error) status.textContent = "preparing audio…";
    if (audio.error) status.textContent = "audio unavailable";
    showTime();
  }

  function enhanceAll(scope) {
    (scope || document).querySelectorAll("[data-player]").forEach(enhancePlayer);
  }

  /* ---------------- merging server-rendered HTML ---------------- */
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  function mergeKeyed(container, html) {
    var incoming = Array.prototype.filter.call(fragment(html).children, function (n) { return n.hasAttribute("data-key"); });
    var existing = {};
    Array.prototype.forEach.call(container.children, function (n) {
      if (n.hasAttribute("data-key")) existing[n.getAttribute("data-key")] = n;
    });
    var keep = {};
    var prev = null;
    incoming.forEach(function (node) {
      var key = node.getAttribute("data-key");
      var old = existing[key];
      var use = node;
      if (old && old.getAttribute("data-version") === node.getAttribute("data-version")) {
        use = old;
      } else if (old) {
        old.replaceWith(node);
      }
      keep[key] = true;
      var after = prev ? prev.nextSibling : container.firstChild;
      if (use !== after) container.insertBefore(use, after);
      if (use === node) enhanceAll(node);
      prev = use;
    });
    Object.keys(existing).forEach(function (key) { if (!keep[key]) existing[key].remove(); });
    watchRendering(container);
  }

  function apply(root, data, last) {
    if (data.text) {
      Object.keys(data.text).forEach(function (name) {
        root.querySelectorAll('[data-text="' + name + '"]').forEach(function (n) {
          if (n.textContent !== data.text[name]) n.textContent = data.text[name];
        });
      });
    }
    if (data.html) {
      Object.keys(data.html).forEach(function (name) {
        // the CSRF token differs on every render: it alone is no change
        var same = data.html[name].replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "");
        if (!(name in last)) {
          last[name] = same;
          if (name === "actions") return; // the page already shows these
        } else if (last[name] === same) {
          return;
        }
        last[name] = same;
        root.querySelectorAll('[data-html="' + name + '"]').forEach(function (n) {
          if (n.hasAttribute("data-keyed")) {
            mergeKeyed(n, data.html[name]);
          } else {
            n.innerHTML = data.html[name];
            enhanceAll(n);
          }
        });
      });
    }
    if (data.state) {
      root.querySelectorAll(".status[data-state]").forEach(function (chip) {
        if (chip.closest("[data-html]")) return;
        chip.className = "status status-" + data.state;
        chip.setAttribute("data-state", data.state);
      });
      root.querySelectorAll("[data-show-while]").forEach(function (n) {
        n.hidden = n.getAttribute("data-show-while").split(" ").indexOf(data.state) < 0;
      });
    }
    if (typeof data.progress === "number") {
      var pct = Math.round(data.progress * 1000) / 10;
      root.querySelectorAll("[data-progress]").forEach(function (bar) {
        bar.setAttribute("aria-valuenow", String(pct));
        var fill = bar.querySelector("span");
        if (fill) fill.style.width = pct + "%";
      });
    }
  }

  function startPolling(root) {
    var url = root.getAttribute("data-poll");
    var interval = Number(root.getAttribute("data-poll-interval")) || 1500;
    var last = {};
    var failures = 0;
    var stopped = root.hasAttribute("data-poll-done");
    var extra = 3; // after `done`, a few slower polls catch audio rendered just after
    if (stopped) return;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          failures = 0;
          apply(root, data, last);
          root.setAttribute("data-poll-state", data.state || "");
          if (data.done) {
            root.setAttribute("data-poll-finished", "");
            if (--extra < 0) return;
            setTimeout(tick, interval * 3);
            return;
          }
          setTimeout(tick, document.hidden ? interval * 4 : interval);
        })
        .catch(function () {
          failures += 1;
          if (failures < 30) setTimeout(tick, interval * Math.min(failures + 1, 10));
        });
    }
    setTimeout(tick, interval);
  }

  /* ---------------- cards waiting for audio ---------------- */
  var watched = {};
  var cardsUrl = null;
  var pollingCards = false;
  var cardPolls = 0;

  function watchRendering(scope) {
    var grid = document.querySelector("[data-cards-url]");
    if (!grid) return;
    cardsUrl = grid.getAttribute("data-cards-url");
    (scope || document).querySelectorAll("[data-cards] [data-rendering]").forEach(function (card) {
      watched[card.getAttribute("data-rendering")] = true;
    });
    if (!pollingCards && Object.keys(watched).length) {
      pollingCards = true;
      setTimeout(pollCards, 2500);
    }
  }

  function pollCards() {
    var ids = Object.keys(watched);
    if (!ids.length || cardPolls++ > 120) { pollingCards = false; return; }
    fetch(cardsUrl + "?ids=" + ids.join(","), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        Object.keys(data.cards || {}).forEach(function (id) {
          var card = data.cards[id];
          if (!card.audio) return;
          var old = document.querySelector('[data-cards] [data-rendering="' + id + '"]');
          delete watched[id];
          if (!old) return;
          var node = fragment(card.html).firstElementChild;
          old.replaceWith(node);
          enhanceAll(node);
        });
      })
      .catch(function () {})
      .then(function () { setTimeout(pollCards, 3000); });
  }

  /* ---------------- forms ---------------- */
  function autosubmit(form) {
    form.addEventListener("change", function (ev) {
      var t = ev.target;
      if (t.tagName === "SELECT" || t.type === "checkbox") {
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
    });
  }

  function rangePair(box) {
    var range = box.querySelector('input[type="range"]');
    var number = box.querySelector('input[type="number"]');
    if (!range || !number) return;
    range.addEventListener("input", function () { number.value = range.value; });
    number.addEventListener("input", function () { if (number.value !== "") range.value = number.value; });
  }

  function init() {
    enhanceAll(document);
    document.querySelectorAll("[data-poll]").forEach(startPolling);
    document.querySelectorAll("form[data-autosubmit]").forEach(autosubmit);
    document.querySelectorAll("[data-range-pair]").forEach(rangePair);
    watchRendering(document);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
