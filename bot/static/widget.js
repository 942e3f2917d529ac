/*
 * Espoo employment services – chat widget.
 *
 * Embed with one tag:  <script src="https://<gateway>/static/widget.js" defer></script>
 *
 * The widget loads its stylesheet, the socket.io client and /widget/config.json
 * from the origin of this script, and speaks the protocol of Rasa's SocketIO
 * channel (session_request / session_confirm / user_uttered / bot_uttered) plus
 * the gateway's `history` event. No inline scripts or styles (strict CSP), no
 * third-party origins, and message text only ever goes into the page through
 * textContent and DOM APIs.
 *
 * On a new conversation the widget asks the gateway for the assistant's greeting
 * and topic menu (the `greet` event), so nobody has to guess what to type. The
 * widget speaks the first supported language of navigator.languages from the
 * start and sends all of them to the gateway as hints. Each message takes its
 * direction from its own text (dir="auto", one direction per paragraph), with
 * phone numbers and links kept left to right inside right-to-left text. While
 * the user waits for or talks with an adviser (metadata.handoff), a bar with
 * "End the chat" stays under the log, also after a reload. A message longer
 * than the gateway accepts is not sent: a counter near the limit and a clear
 * note say so, and the text stays in the box.
 *
 * The session id is a key to the conversation: the widget keeps it in
 * localStorage (so a reload restores the chat) for at most the gateway's idle
 * period, forgets it with the "end and clear" button, and shows it to the
 * embedding page (EspooChat.sessionId, the `espoochat:session` event) only when
 * the page opts in with `data-expose-session` on the script tag.
 */
(function () {
  "use strict";

  if (window.EspooChat && window.EspooChat.version) {
    return; // included twice
  }

  var VERSION = "1.0.0";
  var PREFIX = "espoo-chat";
  var SESSION_KEY = "espooChat.sessionId";
  var ACTIVE_KEY = "espooChat.lastActive";
  var OPEN_KEY = "espooChat.open";
  var DEFAULT_IDLE_HOURS = 24;
  var LANGUAGE_DEBOUNCE_MS = 600;
  var HISTORY_FALLBACK_MS = 2000;
  var DEFAULT_MAX_MESSAGE_CHARS = 1000;
  var MAX_LANGUAGE_HINTS = 10;
  // The counter shows from this share of the limit on; what it says is announced once typing pauses.
  var COUNTER_FROM = 0.9;
  var ANNOUNCE_AFTER_MS = 1000;
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  // As bot/link_titles.py finds them: a closing ")" that closes a "(" of the URL stays.
  var TRAILING_PUNCTUATION = /[.,;:!?'")\]}>»”’。，：；）]+$/;
  // Digit groups separated by spaces ("040 123 4567", "+358 9 816 21"): kept left to right in any text.
  var NUMBER_GROUPS = /\+?[0-9\u0660-\u0669\u06F0-\u06F9]+(?:[ \u00A0][0-9\u0660-\u0669\u06F0-\u06F9]+)+/g;
  var STOP_PAYLOAD = "/stop";
  var HANDOFF_STATES = { waiting: "handoff_waiting", with_adviser: "handoff_with_adviser" };

  /* Used only when /widget/config.json cannot be read. */
  var FALLBACK_CONFIG = {
    "default": "fi",
    languages: [{ code: "fi", name: "Suomi", direction: "ltr" }],
    texts: {
      fi: {
        title: "Työllisyyspalveluiden chat",
        open: "Avaa chat",
        close: "Sulje chat",
        input_label: "Viestisi",
        placeholder: "Kirjoita kysymyksesi…",
        send: "Lähetä",
        language_menu: "Kieli",
        privacy: "Älä kirjoita tähän henkilötunnustasi tai terveystietojasi.",
        you: "Sinä",
        assistant: "Avustaja",
        adviser: "Neuvoja",
        feedback_question: "Oliko vastauksesta apua?",
        feedback_helpful: "Kyllä, tästä oli apua",
        feedback_not_helpful: "Ei, tästä ei ollut apua",
        feedback_rating_question: "Millainen tämä keskustelu oli? Voit antaa arvosanan 1–5.",
        feedback_rating_label: "{value} / 5",
        connecting: "Yhdistetään…",
        offline: "Yhteys katkesi. Yritetään uudelleen…",
        forget: "Lopeta ja tyhjennä chat",
        forgotten: "Chat lopetettiin ja tyhjennettiin tältä laitteelta.",
        handoff_waiting: "Odotat neuvojaa.",
        handoff_with_adviser: "Keskustelet neuvojan kanssa.",
        handoff_end: "Lopeta keskustelu",
        length_counter: "{count} / {max} merkkiä",
        length_near_limit: "Voit kirjoittaa vielä {left} merkkiä.",
        too_long: "Viestisi on liian pitkä ({count} merkkiä). Voit lähettää enintään {max} merkkiä. Lyhennä viestiä."
      }
    }
  };

  /* ------------------------------------------------------------------ setup */

  var script = document.currentScript || (function () {
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(scripts[i].src)) {
        return scripts[i];
      }
    }
    return null;
  })();
  var scriptUrl = new URL(script ? script.src : "/static/widget.js", document.baseURI);
  var ORIGIN = scriptUrl.origin;
  var EXPOSE_SESSION = !!(script && script.hasAttribute("data-expose-session"));
  var STATIC_BASE = new URL(".", scriptUrl).href;

  var state = {
    config: null,
    languages: {},      // code -> {code, name, direction}
    language: null,     // current UI language
    socket: null,
    sessionId: null,    // read in start(), once the idle period is known
    connected: false,
    ready: false,       // session confirmed and history rendered
    pending: [],        // user messages typed before the session was ready
    open: false,
    languageTimer: null,
    languageBefore: null,
    languageChosen: false, // the user picked a language in the menu (in this conversation)
    ending: false,      // this tab asked the gateway to end the conversation ("end and clear")
    historyTimer: null,
    offeredTitles: {},  // quick-reply payload -> title, to show titles for pressed buttons in the history
    maxChars: DEFAULT_MAX_MESSAGE_CHARS,
    greeted: null,      // the session whose greeting was asked for
    greetAnchor: null,  // the greeting goes before this node (messages typed while it was on its way follow it)
    handoff: "none",    // waiting | with_adviser | none
    lengthZone: "ok",   // ok | near | over: what was last announced about the message's length
    lengthTimer: null
  };
  var ui = {};
  var readyResolve;
  var readyPromise = new Promise(function (resolve) { readyResolve = resolve; });

  function readStorage(storage, key) {
    try {
      return storage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function writeStorage(storage, key, value) {
    try {
      if (value === null) {
        storage.removeItem(key);
      } else {
        storage.setItem(key, value);
      }
    } catch (e) {
      /* storage disabled: the conversation just won't survive a reload */
    }
  }

  /** The stored session id, unless it has not been used within the idle period. */
  function storedSession(idleHours) {
    var id = readStorage(localStorage, SESSION_KEY);
    var lastActive = Number(readStorage(localStorage, ACTIVE_KEY));
    if (!id || !lastActive || Date.now() - lastActive > idleHours * 3600 * 1000) {
      forgetSession();
      return null;
    }
    return id;
  }

  function rememberSession(id) {
    writeStorage(localStorage, SESSION_KEY, id);
    touchSession();
    if (EXPOSE_SESSION) {
      notifyHost("session", { sessionId: id });
    }
  }

  function touchSession() {
    if (state.sessionId) {
      writeStorage(localStorage, ACTIVE_KEY, String(Date.now()));
    }
  }

  function forgetSession() {
    writeStorage(localStorage, SESSION_KEY, null);
    writeStorage(localStorage, ACTIVE_KEY, null);
  }

  function sessionStore() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null;
    }
  }

  function loadStylesheet() {
    var href = STATIC_BASE + "widget.css";
    if (document.querySelector('link[data-espoo-chat="css"]')) {
      return;
    }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-espoo-chat", "css");
    document.head.appendChild(link);
  }

  function loadSocketIo() {
    return new Promise(function (resolve, reject) {
      if (typeof window.io === "function") {
        resolve(window.io);
        return;
      }
      var tag = document.createElement("script");
      tag.src = STATIC_BASE + "socket.io.min.js";
      tag.async = true;
      tag.onload = function () { resolve(window.io); };
      tag.onerror = function () { reject(new Error("socket.io client did not load")); };
      document.head.appendChild(tag);
    });
  }

  function loadConfig() {
    return fetch(ORIGIN + "/widget/config.json", { credentials: "omit", cache: "no-cache" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("config: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (config) {
        if (!config || !Array.isArray(config.languages) || !config.languages.length || !config.texts) {
          throw new Error("config: unexpected shape");
        }
        return config;
      })
      .catch(function (error) {
        if (window.console) {
          console.warn("EspooChat:", error);
        }
        return FALLBACK_CONFIG;
      });
  }

  /* -------------------------------------------------------------- languages */

  function baseCode(code) {
    return typeof code === "string" ? code.trim().toLowerCase().split(/[-_]/)[0] : "";
  }

  function isSupported(code) {
    return Object.prototype.hasOwnProperty.call(state.languages, code);
  }

  function directionOf(code, fallback) {
    if (isSupported(code)) {
      return state.languages[code].direction === "rtl" ? "rtl" : "ltr";
    }
    return fallback === "rtl" ? "rtl" : "ltr";
  }

  function texts(code) {
    var all = state.config.texts || {};
    var defaults = all[state.config["default"]] || {};
    var own = all[code] || {};
    var merged = {};
    var key;
    for (key in FALLBACK_CONFIG.texts.fi) { merged[key] = FALLBACK_CONFIG.texts.fi[key]; }
    for (key in defaults) { merged[key] = defaults[key]; }
    for (key in own) { merged[key] = own[key]; }
    return merged;
  }

  function t(key, values) {
    var text = texts(state.language)[key] || "";
    for (var name in values || {}) {
      text = text.split("{" + name + "}").join(String(values[name]));
    }
    return text;
  }

  function browserLanguage() {
    return navigator.language || (navigator.languages && navigator.languages[0]) || "";
  }

  /** The browser's languages in order of preference (at most 10), for the gateway's language hints. */
  function browserLanguages() {
    var all = navigator.languages && navigator.languages.length ? navigator.languages : [browserLanguage()];
    return Array.prototype.slice.call(all, 0, MAX_LANGUAGE_HINTS).filter(function (tag) {
      return typeof tag === "string" && tag;
    });
  }

  /** The widget's language before any conversation: the first of the browser's it speaks. */
  function preferredLanguage() {
    var tags = browserLanguages();
    for (var i = 0; i < tags.length; i++) {
      if (isSupported(baseCode(tags[i]))) {
        return baseCode(tags[i]);
      }
    }
    return state.config["default"];
  }

  function languageData() {
    return { language: browserLanguage(), language_hints: browserLanguages() };
  }

  /* --------------------------------------------------------------------- DOM */

  function el(tag, className, attributes) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (attributes) {
      for (var name in attributes) {
        node.setAttribute(name, attributes[name]);
      }
    }
    return node;
  }

  function uid(name) {
    return PREFIX + "-" + name;
  }

  function buildUi() {
    var root = el("div", PREFIX, { id: uid("root") });
    // The launcher sits in the page's corner: bottom right, or bottom left on a right-to-left page.
    root.setAttribute("data-page-dir", getComputedStyle(document.body).direction === "rtl" ? "rtl" : "ltr");

    var launcher = el("button", PREFIX + "__launcher", {
      type: "button",
      "aria-expanded": "false",
      "aria-controls": uid("panel")
    });
    var launcherIcon = el("span", PREFIX + "__launcher-icon", { "aria-hidden": "true" });
    var launcherText = el("span", PREFIX + "__launcher-text");
    launcher.appendChild(launcherIcon);
    launcher.appendChild(launcherText);

    var panel = el("section", PREFIX + "__panel", {
      id: uid("panel"),
      role: "dialog",
      "aria-labelledby": uid("title"),
      hidden: ""
    });

    var header = el("div", PREFIX + "__header");
    var titleRow = el("div", PREFIX + "__title-row");
    var title = el("h2", PREFIX + "__title", { id: uid("title") });
    var close = el("button", PREFIX + "__close", { type: "button" });
    var closeIcon = el("span", PREFIX + "__close-icon", { "aria-hidden": "true" });
    closeIcon.textContent = "×";
    var closeText = el("span", PREFIX + "__visually-hidden");
    close.appendChild(closeIcon);
    close.appendChild(closeText);
    titleRow.appendChild(title);
    titleRow.appendChild(close);

    var languageRow = el("div", PREFIX + "__language");
    var languageLabel = el("label", PREFIX + "__language-label", { "for": uid("language") });
    var languageSelect = el("select", PREFIX + "__language-select", { id: uid("language") });
    state.config.languages.forEach(function (language) {
      var option = el("option", null, { value: language.code, lang: language.code, dir: directionOf(language.code) });
      option.textContent = language.name || language.code;
      languageSelect.appendChild(option);
    });
    languageRow.appendChild(languageLabel);
    languageRow.appendChild(languageSelect);
    // A shared computer: end the conversation and forget it in this browser.
    var forget = el("button", PREFIX + "__forget", { type: "button" });
    languageRow.appendChild(forget);

    header.appendChild(titleRow);
    header.appendChild(languageRow);

    var status = el("p", PREFIX + "__status", { id: uid("status"), role: "status" });

    var log = el("div", PREFIX + "__log", {
      id: uid("log"),
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-atomic": "false",
      "aria-labelledby": uid("title"),
      tabindex: "0"
    });

    // While a handoff lasts: what is going on, and the way out (also after a reload).
    var handoff = el("div", PREFIX + "__handoff", { hidden: "" });
    var handoffText = el("p", PREFIX + "__handoff-text");
    var handoffEnd = el("button", PREFIX + "__handoff-end", { type: "button" });
    handoff.appendChild(handoffText);
    handoff.appendChild(handoffEnd);

    var form = el("form", PREFIX + "__form", { novalidate: "" });
    var inputLabel = el("label", PREFIX + "__input-label", { "for": uid("input") });
    var inputRow = el("div", PREFIX + "__input-row");
    // No maxlength: a pasted text is never cut without a word (the counter and the note below say it is too long).
    var input = el("input", PREFIX + "__input", {
      id: uid("input"),
      type: "text",
      autocomplete: "off",
      "aria-describedby": uid("counter") + " " + uid("privacy")
    });
    var send = el("button", PREFIX + "__send", { type: "submit" });
    inputRow.appendChild(input);
    inputRow.appendChild(send);
    form.appendChild(inputLabel);
    form.appendChild(inputRow);
    var counter = el("p", PREFIX + "__counter", { id: uid("counter"), hidden: "" });
    form.appendChild(counter);
    // Read out once typing pauses (not on every key): near the limit, over it.
    var announcer = el("p", PREFIX + "__visually-hidden", { id: uid("announcer"), "aria-live": "polite" });
    form.appendChild(announcer);

    var privacy = el("p", PREFIX + "__privacy", { id: uid("privacy") });

    panel.appendChild(header);
    panel.appendChild(status);
    panel.appendChild(log);
    panel.appendChild(handoff);
    panel.appendChild(form);
    panel.appendChild(privacy);

    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    ui = {
      root: root, launcher: launcher, launcherText: launcherText, panel: panel, title: title,
      close: close, closeText: closeText, languageLabel: languageLabel, languageSelect: languageSelect, forget: forget,
      status: status, log: log, form: form, inputLabel: inputLabel, input: input, send: send, privacy: privacy,
      handoff: handoff, handoffText: handoffText, handoffEnd: handoffEnd, counter: counter, announcer: announcer
    };

    launcher.addEventListener("click", function () { openPanel(true); });
    close.addEventListener("click", function () { closePanel(true); });
    forget.addEventListener("click", onForget);
    panel.addEventListener("keydown", onPanelKeydown);
    form.addEventListener("submit", onSubmit);
    input.addEventListener("input", onInput);
    handoffEnd.addEventListener("click", onEndHandoff);
    languageSelect.addEventListener("change", onLanguageChange);
  }

  function applyLanguage(code) {
    if (!isSupported(code)) {
      return;
    }
    state.language = code;
    var dir = directionOf(code);
    ui.root.setAttribute("lang", code);
    ui.root.setAttribute("dir", dir);
    ui.input.setAttribute("dir", dir);
    ui.launcherText.textContent = t("open");
    ui.title.textContent = t("title");
    ui.closeText.textContent = t("close");
    ui.close.setAttribute("title", t("close"));
    ui.languageLabel.textContent = t("language_menu");
    ui.languageSelect.value = code;
    ui.forget.textContent = t("forget");
    ui.inputLabel.textContent = t("input_label");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.send.textContent = t("send");
    ui.privacy.textContent = t("privacy");
    ui.handoffEnd.textContent = t("handoff_end");
    renderHandoff();
    renderLength();
    renderStatus();
    var labels = ui.log.querySelectorAll("." + PREFIX + "__sender");
    for (var i = 0; i < labels.length; i++) {
      var name = labels[i].getAttribute("data-name");
      labels[i].textContent = senderLabel(labels[i].getAttribute("data-sender")) + (name ? " " + name : "") + ": ";
      labels[i].setAttribute("lang", code);
    }
  }

  function renderStatus() {
    var text = "";
    var kind = "";
    if (state.socket && !state.connected) {
      text = state.everConnected ? t("offline") : t("connecting");
      kind = state.everConnected ? "offline" : "connecting";
    } else if (state.socket && !state.ready) {
      text = t("connecting");
      kind = "connecting";
    }
    ui.status.textContent = text;
    ui.status.setAttribute("data-state", kind || "online");
    ui.root.setAttribute("data-state", kind || "online");
  }

  /* ------------------------------------------------------------ handoff bar */

  function setHandoff(value) {
    if (typeof value !== "string") {
      return; // a message that says nothing about it (e.g. from another server)
    }
    state.handoff = Object.prototype.hasOwnProperty.call(HANDOFF_STATES, value) ? value : "none";
    renderHandoff();
  }

  function renderHandoff() {
    var key = HANDOFF_STATES[state.handoff];
    ui.handoff.hidden = !key;
    ui.handoff.setAttribute("data-state", state.handoff);
    ui.handoffText.textContent = key ? t(key) : "";
  }

  function onEndHandoff() {
    sendMessage(STOP_PAYLOAD, t("handoff_end"), null);
    ui.input.focus();
  }

  /* --------------------------------------------------------- message length */

  /** Characters as the gateway counts them (code points, without the spaces around). */
  function messageLength(text) {
    return Array.from(text.trim()).length;
  }

  function lengthZone(count) {
    if (count > state.maxChars) {
      return "over";
    }
    return count >= Math.floor(state.maxChars * COUNTER_FROM) ? "near" : "ok";
  }

  function lengthText(zone, count) {
    if (zone === "over") {
      return t("too_long", { count: count, max: state.maxChars });
    }
    return zone === "near" ? t("length_counter", { count: count, max: state.maxChars }) : "";
  }

  /** The counter under the input: shown near the limit, a clear note over it. */
  function renderLength() {
    var count = messageLength(ui.input.value);
    var zone = lengthZone(count);
    ui.counter.hidden = zone === "ok";
    ui.counter.textContent = lengthText(zone, count);
    ui.counter.setAttribute("data-state", zone);
    if (zone === "over") {
      ui.input.setAttribute("aria-invalid", "true");
    } else {
      ui.input.removeAttribute("aria-invalid");
    }
    return zone;
  }

  function announce(text) {
    ui.announcer.textContent = "";
    // A new text node, a moment later: read out even when it is the same sentence as before.
    setTimeout(function () { ui.announcer.textContent = text; }, 50);
  }

  function onInput() {
    var zone = renderLength();
    clearTimeout(state.lengthTimer);
    if (zone === "ok") {
      state.lengthZone = "ok";
      return;
    }
    // Said once typing pauses, and only when the message moved nearer to or over the limit.
    state.lengthTimer = setTimeout(function () {
      var count = messageLength(ui.input.value);
      var now = lengthZone(count);
      if (now !== state.lengthZone && now !== "ok") {
        announce(now === "over" ? lengthText(now, count)
          : t("length_near_limit", { left: state.maxChars - count }));
      }
      state.lengthZone = now;
    }, ANNOUNCE_AFTER_MS);
  }

  /* -------------------------------------------------------------- open/close */

  function openPanel(moveFocus) {
    if (!state.open) {
      state.open = true;
      ui.panel.hidden = false;
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.root.classList.add(PREFIX + "--open");
      writeStorage(sessionStore(), OPEN_KEY, "1");
      connect();
      maybeGreet();
      scrollToEnd();
    }
    if (moveFocus) {
      ui.input.focus();
    }
  }

  function closePanel(moveFocus) {
    if (!state.open) {
      return;
    }
    state.open = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.root.classList.remove(PREFIX + "--open");
    writeStorage(sessionStore(), OPEN_KEY, null);
    if (moveFocus) {
      ui.launcher.focus();
    }
  }

  function isFullScreen() {
    return window.matchMedia && window.matchMedia("(max-width: 479.98px)").matches;
  }

  function focusableIn(container) {
    var nodes = container.querySelectorAll("a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex='-1'])");
    return Array.prototype.filter.call(nodes, function (node) {
      return node.offsetParent !== null || node === document.activeElement;
    });
  }

  function onPanelKeydown(event) {
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      closePanel(true);
      return;
    }
    // Full-screen on small screens: the page behind is covered, so keep Tab inside.
    if (event.key === "Tab" && isFullScreen()) {
      var focusable = focusableIn(ui.panel);
      if (!focusable.length) {
        return;
      }
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  }

  /* ---------------------------------------------------------------- messages */

  function senderLabel(sender) {
    return sender === "user" ? t("you") : sender === "adviser" ? t("adviser") : t("assistant");
  }

  /** Text as DOM nodes, with runs of digit groups ("040 123 4567") isolated left to right, so
   * that a right-to-left paragraph does not reverse their order. */
  function appendText(container, text) {
    var last = 0;
    var match;
    NUMBER_GROUPS.lastIndex = 0;
    while ((match = NUMBER_GROUPS.exec(text)) !== null) {
      if (match.index > last) {
        container.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      var run = el("bdi", PREFIX + "__ltr", { dir: "ltr" });
      run.textContent = match[0];
      container.appendChild(run);
      last = match.index + match[0].length;
    }
    if (last < text.length) {
      container.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  /** A matched URL without the punctuation after it; a ")" closing a "(" of the URL stays. */
  function cleanUrl(raw) {
    var trailing = raw.match(TRAILING_PUNCTUATION);
    var url = trailing ? raw.slice(0, raw.length - trailing[0].length) : raw;
    var rest = raw.slice(url.length);
    while (rest.charAt(0) === ")" && url.split("(").length > url.split(")").length) {
      url += ")";
      rest = rest.slice(1);
    }
    return url;
  }

  /**
   * Bot text as DOM nodes: plain text, with http(s) URLs as links (left to right in any text).
   * `titles` (metadata.links): URL -> a short title ("Kela: Unemployment") shown instead of the
   * URL, which stays the link's address (and its tooltip).
   */
  function appendTextWithLinks(container, text, titles) {
    var last = 0;
    URL_PATTERN.lastIndex = 0;
    var match;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var raw = cleanUrl(match[0]);
      var href = safeHttpUrl(raw);
      if (!href) {
        continue;
      }
      if (match.index > last) {
        appendText(container, text.slice(last, match.index));
      }
      var link = document.createElement("a");
      link.dir = "ltr";
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.className = PREFIX + "__link";
      var title = titles && Object.prototype.hasOwnProperty.call(titles, raw) ? titles[raw] : null;
      if (typeof title === "string" && title) {
        link.textContent = title;
        link.title = raw;
      } else {
        link.textContent = raw;
      }
      container.appendChild(link);
      last = match.index + raw.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) {
      appendText(container, text.slice(last));
    }
  }

  function safeHttpUrl(raw) {
    try {
      var url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function safeImageUrl(raw) {
    if (typeof raw !== "string" || !raw) {
      return null;
    }
    try {
      var url = new URL(raw, ORIGIN + "/");
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function metadataOf(message) {
    var meta = message && typeof message.metadata === "object" && message.metadata ? message.metadata : {};
    return meta;
  }

  /**
   * Render one message into the log and return its element (or null for
   * payloads that aren't for display, such as a hand-off notice).
   * message: {text?, quick_replies?, attachment?, metadata?: {language, direction}}
   * sender: "user" | "bot" | "system" | "adviser"
   * before: a node of the log to put the message before (else it goes last)
   */
  function renderMessage(message, sender, before) {
    if (!message || typeof message !== "object") {
      return null;
    }
    sender = sender || message.sender || "bot";
    var hasText = typeof message.text === "string" && message.text !== "";
    var image = message.attachment && message.attachment.type === "image" && message.attachment.payload
      ? safeImageUrl(message.attachment.payload.src) : null;
    // "End the chat" of a handoff is in the handoff bar, which stays: not repeated as a quick reply.
    var quickReplies = Array.isArray(message.quick_replies) ? message.quick_replies.filter(function (reply) {
      return reply && typeof reply.title === "string" && reply.title !== "" && reply.payload !== STOP_PAYLOAD;
    }) : [];
    if (!hasText && !image && !quickReplies.length) {
      return null; // custom payload (e.g. hand-off): not shown as text
    }

    var meta = metadataOf(message);
    var code = baseCode(meta.language) || state.language || state.config["default"];
    var dir = meta.direction === "rtl" || meta.direction === "ltr" ? meta.direction : directionOf(code);

    var item = el("div", PREFIX + "__message " + PREFIX + "__message--" + (sender === "user" ? "user" : "bot"), {
      lang: code,
      dir: dir,
      "data-sender": sender
    });
    if (sender === "system" || sender === "adviser") {
      item.classList.add(PREFIX + "__message--" + sender);
    }

    // An adviser's name is shown: the user should see that a person answers.
    var label = el("span", PREFIX + "__sender" + (sender === "adviser" ? "" : " " + PREFIX + "__visually-hidden"), {
      "data-sender": sender,
      lang: state.language || code
    });
    var name = sender === "adviser" && typeof meta.sender_name === "string" ? meta.sender_name : "";
    if (name) {
      label.setAttribute("data-name", name);
    }
    label.textContent = senderLabel(sender) + (name ? " " + name : "") + ": ";
    item.appendChild(label);

    if (hasText) {
      // The text's own direction, paragraph by paragraph (an adviser's English in an Arabic chat
      // runs left to right; a phone number alone too), whatever the language around it.
      var bubble = el("div", PREFIX + "__bubble", { dir: "auto" });
      if (sender === "user") {
        appendText(bubble, message.text);
      } else {
        appendTextWithLinks(bubble, message.text, meta.links);
      }
      item.appendChild(bubble);
    }

    if (image) {
      var figure = el("div", PREFIX + "__bubble " + PREFIX + "__bubble--image");
      var img = el("img", PREFIX + "__image", { src: image, alt: "" });
      var alt = message.attachment.payload.alt || message.attachment.payload.title;
      if (typeof alt === "string") {
        img.setAttribute("alt", alt);
      }
      figure.appendChild(img);
      item.appendChild(figure);
    }

    if (quickReplies.length) {
      var group = el("div", PREFIX + "__quick-replies", { role: "group" });
      if (hasText) {
        group.setAttribute("aria-label", message.text.slice(0, 120));
      }
      quickReplies.forEach(function (reply) {
        var payload = typeof reply.payload === "string" && reply.payload !== "" ? reply.payload : reply.title;
        state.offeredTitles[payload] = reply.title;
        var button = el("button", PREFIX + "__quick-reply", { type: "button" });
        button.textContent = reply.title;
        button.addEventListener("click", function () {
          sendMessage(payload, reply.title, null);
        });
        group.appendChild(button);
      });
      item.appendChild(group);
    }

    if (sender === "bot" && meta.feedback && typeof meta.feedback.message_id === "number") {
      item.appendChild(feedbackGroup("feedback", meta.feedback.message_id, t("feedback_question"), [
        { value: 1, label: "\uD83D\uDC4D", name: t("feedback_helpful") },
        { value: -1, label: "\uD83D\uDC4E", name: t("feedback_not_helpful") }
      ]));
    }
    if (sender === "bot" && meta.rating && typeof meta.rating.message_id === "number") {
      item.appendChild(feedbackGroup("rating", meta.rating.message_id, t("feedback_rating_question"),
        [1, 2, 3, 4, 5].map(function (n) {
          return { value: n, label: String(n), name: t("feedback_rating_label").split("{value}").join(String(n)) };
        })));
    }

    if (before && before.parentNode === ui.log) {
      ui.log.insertBefore(item, before);
    } else {
      ui.log.appendChild(item);
    }
    scrollToEnd();
    return item;
  }

  /** 👍/👎 under an answer, or the 1-5 rating: one choice, then the buttons go. */
  function feedbackGroup(kind, messageId, question, choices) {
    var group = el("div", PREFIX + "__feedback", { role: "group", "aria-label": question });
    var label = el("span", PREFIX + "__feedback-question");
    label.textContent = question;
    group.appendChild(label);
    choices.forEach(function (choice) {
      var button = el("button", PREFIX + "__feedback-button", {
        type: "button", "aria-label": choice.name, title: choice.name, "data-value": String(choice.value)
      });
      button.textContent = choice.label;
      button.addEventListener("click", function () {
        if (!state.socket || !state.connected) {
          return;
        }
        state.socket.emit(kind, { message_id: messageId, value: choice.value });
        if (group.parentNode) {
          group.parentNode.removeChild(group);
        }
        ui.input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }

  function scrollToEnd() {
    if (ui.log) {
      ui.log.scrollTop = ui.log.scrollHeight;
    }
  }

  /** Quick replies are answers to the latest bot turn only: drop those before the last user message. */
  function pruneQuickReplies() {
    var messages = ui.log.querySelectorAll("." + PREFIX + "__message");
    var lastUser = -1;
    for (var i = 0; i < messages.length; i++) {
      if (messages[i].getAttribute("data-sender") === "user") {
        lastUser = i;
      }
    }
    for (var j = 0; j < lastUser; j++) {
      var group = messages[j].querySelector("." + PREFIX + "__quick-replies");
      if (group) {
        group.parentNode.removeChild(group);
      }
    }
  }

  /** The log shows nothing but notices (e.g. "the chat was cleared"): an empty history keeps them. */
  function onlyNoticesInLog() {
    var count = ui.log.querySelectorAll("." + PREFIX + "__message").length;
    return count > 0 && count === ui.log.querySelectorAll("." + PREFIX + "__message--notice").length;
  }

  /** No messages in the log but notices: a new conversation. */
  function noMessagesInLog() {
    return ui.log.querySelectorAll("." + PREFIX + "__message").length ===
      ui.log.querySelectorAll("." + PREFIX + "__message--notice").length;
  }

  function clearLog() {
    while (ui.log.firstChild) {
      ui.log.removeChild(ui.log.firstChild);
    }
    state.greetAnchor = null;
  }

  function onBotMessage(message) {
    var meta = metadataOf(message);
    var code = baseCode(meta.language);
    // A language the user is choosing in the menu (or chose while the greeting was on its way) wins.
    var choosing = state.languageTimer || (meta.greeting && state.languageChosen);
    if (isSupported(code) && code !== state.language && !choosing) {
      applyLanguage(code);
    }
    // The greeting keeps its place above anything typed while it was on its way.
    var before = meta.greeting ? state.greetAnchor : null;
    renderMessage(message, meta.sender === "adviser" ? "adviser" : "bot", before);
    if (before) {
      pruneQuickReplies();
    }
    setHandoff(meta.handoff);
    notifyHost("message", message);
  }

  function notifyHost(kind, detail) {
    try {
      window.dispatchEvent(new CustomEvent("espoochat:" + kind, { detail: detail }));
    } catch (e) {
      /* old browsers */
    }
  }

  function userDisplayText(item) {
    var text = typeof item.text === "string" ? item.text : "";
    if (Object.prototype.hasOwnProperty.call(state.offeredTitles, text)) {
      return state.offeredTitles[text];
    }
    if (text === STOP_PAYLOAD) {
      return t("handoff_end");
    }
    var change = /^\/change_language\s*(\{.*\})\s*$/.exec(text);
    if (change) {
      try {
        var code = JSON.parse(change[1]).language;
        if (isSupported(code)) {
          return state.languages[code].name;
        }
      } catch (e) {
        /* shown as typed */
      }
    }
    return text;
  }

  function renderHistory(items) {
    // Re-rendering the whole conversation (reload, reconnect) should not be read out again.
    ui.log.setAttribute("aria-live", "off");
    clearTimeout(state.liveTimer);
    state.liveTimer = setTimeout(function () { ui.log.setAttribute("aria-live", "polite"); }, 300);
    clearLog();
    state.offeredTitles = {};
    var lastBotLanguage = null;
    var handoff = "none";
    (Array.isArray(items) ? items : []).forEach(function (item) {
      if (!item || typeof item !== "object") {
        return;
      }
      if (typeof metadataOf(item).handoff === "string") {
        handoff = metadataOf(item).handoff;
      }
      if (item.sender === "user") {
        renderMessage({ text: userDisplayText(item), metadata: item.metadata }, "user");
      } else {
        var code = baseCode(metadataOf(item).language);
        if (renderMessage(item, item.sender || "bot") && isSupported(code)) {
          lastBotLanguage = code;
        }
      }
    });
    if (lastBotLanguage && lastBotLanguage !== state.language) {
      applyLanguage(lastBotLanguage);
    }
    setHandoff(handoff);
    pruneQuickReplies();
  }

  /* ------------------------------------------------------------------ socket */

  function connect() {
    if (state.socket) {
      return;
    }
    state.socket = { pending: true };
    renderStatus();
    loadSocketIo().then(function (io) {
      // Long-polling first, then the upgrade to a WebSocket: works behind proxies that block WebSockets.
      var socket = io(ORIGIN, { path: "/socket.io", withCredentials: false });
      state.socket = socket;
      socket.on("connect", function () {
        state.connected = true;
        state.everConnected = true;
        state.ready = false;
        renderStatus();
        socket.emit("session_request", { session_id: state.sessionId || null, language_hints: browserLanguages() });
      });
      socket.on("disconnect", function () {
        state.connected = false;
        state.ready = false;
        renderStatus();
      });
      socket.on("connect_error", function () {
        state.connected = false;
        renderStatus();
      });
      socket.on("session_confirm", function (data) {
        var id = typeof data === "string" ? data : data && data.session_id;
        if (typeof id === "string" && id) {
          state.sessionId = id;
          rememberSession(id);
        }
        // Servers without the `history` event (plain Rasa): become ready anyway.
        clearTimeout(state.historyTimer);
        state.historyTimer = setTimeout(function () { becomeReady(null); }, HISTORY_FALLBACK_MS);
      });
      socket.on("history", function (items) {
        clearTimeout(state.historyTimer);
        becomeReady(items);
      });
      socket.on("bot_uttered", function (message) {
        onBotMessage(message);
      });
      socket.on("session_ended", function () {
        if (state.ending) {
          // This tab ended it: already cleared (the notice stays); the gateway confirms a new session.
          state.ending = false;
          return;
        }
        resetConversation(); // another tab of the same session ended it
        socket.emit("session_request", { session_id: null, language_hints: browserLanguages() });
      });
    }, function (error) {
      state.socket = null;
      state.connected = false;
      state.everConnected = true;
      renderStatus();
      if (window.console) {
        console.error("EspooChat:", error);
      }
    });
  }

  function becomeReady(historyItems) {
    if (state.ready) {
      return;
    }
    if (historyItems && !(historyItems.length === 0 && onlyNoticesInLog())) {
      renderHistory(historyItems);
      state.pending.forEach(function (message) {
        if (message.display !== null) {
          message.element = renderMessage({ text: message.display, metadata: message.metadata }, "user");
        }
      });
      pruneQuickReplies();
    }
    state.ready = true;
    renderStatus();
    var pending = state.pending;
    state.pending = [];
    pending.forEach(function (message) {
      emitUserMessage(message);
    });
    if (Array.isArray(historyItems) && historyItems.length === 0 && !pending.length) {
      maybeGreet();
    }
  }

  /**
   * A new, empty conversation in an open panel: ask for the assistant's greeting and topic
   * menu (once per session), in the first language of the browser's that it speaks.
   */
  function maybeGreet() {
    if (!state.open || !state.ready || !state.connected || !state.socket || !state.sessionId ||
        state.greeted === state.sessionId || state.pending.length || !noMessagesInLog()) {
      return;
    }
    state.greeted = state.sessionId;
    state.greetAnchor = el("div", PREFIX + "__anchor", { hidden: "" });
    ui.log.appendChild(state.greetAnchor);
    state.socket.emit("greet", languageData());
  }

  function emitUserMessage(message) {
    touchSession();
    state.socket.emit("user_uttered", {
      message: message.text,
      session_id: state.sessionId,
      customData: message.customData
    });
  }

  /**
   * Send `text` to the assistant, showing `display` (or the text) as the user's
   * message. `languageChoice` is set when the user picked a language in the menu.
   */
  function sendMessage(text, display, languageChoice) {
    if (typeof text !== "string" || !text.trim()) {
      return;
    }
    var focusInLog = !!document.activeElement && ui.log.contains(document.activeElement);
    var customData = languageData();
    if (languageChoice) {
      customData.language_choice = languageChoice;
    }
    var metadata = { language: state.language, direction: directionOf(state.language) };
    var message = { text: text, display: display === undefined ? text : display, customData: customData, metadata: metadata };
    if (message.display !== null) {
      renderMessage({ text: message.display, metadata: metadata }, "user");
      pruneQuickReplies();
    }
    if (focusInLog) {
      ui.input.focus(); // the pressed quick reply is gone
    }
    if (state.ready && state.socket && state.connected) {
      emitUserMessage(message);
    } else {
      state.pending.push(message);
      connect();
    }
  }

  /** Forget the conversation in this browser (and end it at the gateway): a new, empty chat. */
  function resetConversation() {
    forgetSession();
    state.sessionId = null;
    state.ready = false;
    state.pending = [];
    state.greeted = null;
    state.languageChosen = false;
    clearTimeout(state.historyTimer);
    clearLog();
    setHandoff("none");
    renderStatus();
  }

  function onForget() {
    var connected = state.ready && state.socket && state.connected;
    if (connected) {
      state.ending = true;
      state.socket.emit("end_session", {});
    }
    resetConversation();
    var note = renderMessage({ text: t("forgotten") }, "system");
    if (note) {
      note.classList.add(PREFIX + "__message--notice");
    }
    if (!connected && state.socket && state.socket.connected) {
      state.socket.emit("session_request", { session_id: null, language_hints: browserLanguages() });
    }
    ui.input.focus();
  }

  function onSubmit(event) {
    event.preventDefault();
    var text = ui.input.value.trim();
    if (!text) {
      ui.input.focus();
      return;
    }
    if (renderLength() === "over") {
      // Not sent, not cut: the text stays for the user to shorten, and the note says why.
      clearTimeout(state.lengthTimer);
      state.lengthZone = "over";
      announce(ui.counter.textContent);
      ui.input.focus();
      return;
    }
    ui.input.value = "";
    state.lengthZone = "ok";
    renderLength();
    sendMessage(text, text, null);
    ui.input.focus();
  }

  function onLanguageChange() {
    var code = ui.languageSelect.value;
    if (!isSupported(code)) {
      return;
    }
    if (!state.languageTimer) {
      state.languageBefore = state.language;
    }
    state.languageChosen = true;
    applyLanguage(code);
    // Some browsers fire `change` on every arrow key press: send once the choice settles.
    clearTimeout(state.languageTimer);
    state.languageTimer = setTimeout(function () {
      var before = state.languageBefore;
      state.languageTimer = null;
      if (code !== state.language || code === before) {
        return;
      }
      sendMessage('/change_language{"language":"' + code + '"}', state.languages[code].name, code);
    }, LANGUAGE_DEBOUNCE_MS);
  }

  /* ------------------------------------------------------------------- start */

  function start() {
    loadStylesheet();
    loadConfig().then(function (config) {
      state.config = config;
      config.languages.forEach(function (language) {
        state.languages[language.code] = language;
      });
      if (!isSupported(config["default"])) {
        config["default"] = config.languages[0].code;
      }
      if (Number(config.max_message_chars) > 0) {
        state.maxChars = Number(config.max_message_chars);
      }
      buildUi();
      applyLanguage(preferredLanguage());
      var idleHours = Number(config.session_idle_hours) > 0 ? Number(config.session_idle_hours) : DEFAULT_IDLE_HOURS;
      state.sessionId = storedSession(idleHours);
      if (readStorage(sessionStore(), OPEN_KEY) === "1") {
        openPanel(false); // reopen after a reload, without taking the focus
      } else if (state.sessionId) {
        connect(); // restore the conversation (and its language) in the background
      }
      readyResolve(api);
    });
  }

  var api = {
    version: VERSION,
    ready: readyPromise,
    open: function () { openPanel(true); },
    close: function () { closePanel(true); },
    send: function (text) { sendMessage(String(text), String(text), null); },
    renderMessage: function (message, sender) { return renderMessage(message, sender || "bot"); },
    get language() { return state.language; },
    // Only for pages that opt in (data-expose-session): the id is a key to the conversation.
    get sessionId() { return EXPOSE_SESSION ? state.sessionId : null; }
  };
  window.EspooChat = api;

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
