// The adviser console: queue, chats and contact requests. Data comes from the
// JSON API under /console/api (session cookie + CSRF header); socket.io
// (at /console/socket.io) only says what changed. User text is always inserted as
// text, never as HTML.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var root = document.getElementById("console");
  var state = { me: null, texts: {}, selected: null, queue: null };

  function t(key, values) {
    var s = state.texts[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(values[k]); });
    return s;
  }
  // Numbers with spaces or dots inside ("040 123 4567", "3.2.2026") keep their order in
  // right-to-left text: each is isolated left to right. Text only, never HTML.
  var NUMBER_RUN = /\+?\d+(?:[ .\-\/]\d+)+/g;
  function fillBidi(node, text) {
    var last = 0;
    text.replace(NUMBER_RUN, function (match, offset) {
      if (offset > last) node.appendChild(document.createTextNode(text.slice(last, offset)));
      var run = document.createElement("bdi");
      run.setAttribute("dir", "ltr");
      run.textContent = match;
      node.appendChild(run);
      last = offset + match.length;
      return match;
    });
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "bidiText") fillBidi(node, attrs[k]);
      else if (k === "onclick") node.addEventListener("click", attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    return fetch("/console/api/" + path, options).then(function (response) {
      if (response.status === 401) { window.location.href = "/console/login"; throw new Error("signed out"); }
      return response.json().then(function (data) { data._status = response.status; return data; });
    });
  }
  function announce(message) {
    var status = document.getElementById("status-message");
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  // --- layout ---------------------------------------------------------------
  function layout() {
    var me = state.me.adviser;
    document.title = t("title");
    var available = el("input", { type: "checkbox", id: "available" });
    available.checked = me.available;
    available.addEventListener("change", function () {
      api("POST", "presence", { available: available.checked }).then(refreshQueue);
    });
    var ui = el("select", { id: "ui-language" }, state.me.ui_languages.map(function (code) {
      var option = el("option", { value: code, text: code === "fi" ? "Suomi" : "English" });
      option.selected = code === me.ui_language;
      return option;
    }));
    ui.addEventListener("change", function () {
      api("POST", "ui-language", { language: ui.value }).then(function () { window.location.reload(); });
    });
    var signOut = el("form", { method: "post", action: "/console/logout" }, [
      el("input", { type: "hidden", name: "csrf_token", value: csrf }),
      el("button", { type: "submit", id: "sign-out", text: t("sign_out") }),
    ]);
    root.textContent = "";
    root.appendChild(el("header", {}, [
      el("h1", { text: t("title") }),
      el("p", { text: t("signed_in_as", { name: me.name }) }),
      el("p", {}, [available, el("label", { for: "available", text: " " + t("available") })]),
      el("p", {}, [el("label", { for: "ui-language", text: t("ui_language") + " " }), ui]),
      passwordForm(),
      signOut,
    ]));
    // Everything below the header is in the page's one main landmark; each list and the chat
    // is a region of its own (a section named by its heading).
    root.appendChild(el("main", { id: "main" }, [
      el("p", { id: "status-message", role: "status", "aria-live": "polite", class: "status" }),
      el("p", { id: "hours", class: "hours" }),
      el("div", { class: "columns" }, [
        el("div", { class: "lists" }, [
          section("queue", t("queue")), section("mine", t("my_chats")), section("others", t("others_chats")),
          section("contacts", t("contact_requests")),
        ]),
        el("section", { id: "chat", "aria-label": t("transcript") }),
      ]),
    ]));
  }
  // A new password: the server ends the account's other sessions.
  function passwordForm() {
    var current = el("input", { type: "password", id: "current-password", autocomplete: "current-password",
      required: "required", maxlength: "256" });
    var fresh = el("input", { type: "password", id: "new-password", autocomplete: "new-password",
      required: "required", minlength: "12", maxlength: "256" });
    var form = el("form", { id: "password-form" }, [
      el("label", { for: "current-password", text: t("current_password") }), current,
      el("label", { for: "new-password", text: t("new_password") }), fresh,
      el("button", { type: "submit", id: "save-password", text: t("save_password") }),
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      api("POST", "password", { current: current.value, "new": fresh.value }).then(function (result) {
        if (result._status === 200) {
          current.value = ""; fresh.value = "";
          announce(t("password_changed"));
        } else if (result._status === 429) {
          announce(t("password_throttled", { seconds: result.retry_after }));
        } else {
          announce(t(result.error === "password_too_short" ? "password_too_short" : "wrong_password"));
        }
      });
    });
    return el("details", { class: "password" }, [el("summary", { text: t("change_password") }), form]);
  }
  function section(id, title) {
    return el("section", { "aria-labelledby": id + "-title" }, [
      el("h2", { id: id + "-title", text: title }), el("ul", { id: id, class: "items" }),
    ]);
  }

  // --- is the user still there (bot/console/presence.py) ---------------------
  function presenceText(client) {
    if (!client) return "";
    var parts = [];
    if (client.state === "open") parts.push(t("client.open"));
    if (client.state === "closed") parts.push(t("client.closed", { minutes: client.minutes }));
    if (client.state === "blocked") parts.push(t("client.blocked"));
    var wrote = client.last_wrote_minutes;
    if (typeof wrote === "number") {
      parts.push(wrote < 1 ? t("client.last_wrote_now") : t("client.last_wrote", { minutes: wrote }));
    }
    return parts.join(" · ");
  }
  function presenceNode(client, id) {
    return el("span", { class: "presence" + (client && client.state ? " presence-" + client.state : ""), id: id,
      "data-state": client && client.state ? client.state : null, text: presenceText(client) });
  }
  function queued(id) {
    if (!state.queue) return null;
    var all = state.queue.waiting.concat(state.queue.mine, state.queue.others);
    for (var i = 0; i < all.length; i++) { if (all[i].id === id) return all[i]; }
    return null;
  }
  function updateChatPresence() {
    var line = document.getElementById("chat-presence");
    var item = state.selected === null ? null : queued(state.selected);
    if (!line) return;
    line.replaceWith(presenceNode(item ? item.client : null, "chat-presence"));
  }

  // --- queue ----------------------------------------------------------------
  function itemNode(item, withAdviser) {
    var details = [item.language_name, t("channels." + item.channel), t("waited", { minutes: item.waited_minutes }),
      t("reasons." + item.reason)];
    if (item.topic_title) details.push(item.topic_title);
    if (withAdviser && item.adviser) details.push(item.adviser);
    var open = el("button", { type: "button", class: "open", "data-id": item.id,
      text: t("open") + ": " + item.language_name, onclick: function () { select(item.id); } });
    return el("li", { class: "queue-item" + (item.speaks ? " speaks" : ""), "data-id": item.id,
      "data-language": item.language }, [
      open,
      item.speaks ? el("span", { class: "badge", text: t("speaks_your_language") }) : null,
      el("span", { class: "details", text: details.join(" · ") }),
      presenceNode(item.client),
      item.preview ? el("q", { class: "preview", lang: item.language, dir: item.direction, bidiText: item.preview })
        : null,
    ]);
  }
  function fill(id, items, empty, withAdviser) {
    var list = document.getElementById(id);
    list.textContent = "";
    if (!items.length) { list.appendChild(el("li", { class: "empty", text: empty })); return; }
    items.forEach(function (item) { list.appendChild(itemNode(item, withAdviser)); });
  }
  function refreshQueue() {
    return api("GET", "queue").then(function (queue) {
      state.queue = queue;
      document.getElementById("hours").textContent =
        (queue.open ? t("chat_open") : t("chat_closed")) + " " + t("online_advisers", { count: queue.online });
      fill("queue", queue.waiting, t("no_waiting"));
      fill("mine", queue.mine, t("no_chats"));
      fill("others", queue.others, "–", true);
      updateChatPresence();
    });
  }
  function refreshContacts() {
    return api("GET", "contact-requests").then(function (data) {
      var list = document.getElementById("contacts");
      list.textContent = "";
      if (!data.contact_requests.length) {
        list.appendChild(el("li", { class: "empty", text: t("no_contact_requests") }));
        return;
      }
      data.contact_requests.forEach(function (r) {
        var handled = r.handled ? el("span", { class: "handled", text: t("handled") })
          : el("button", { type: "button", class: "mark-handled", text: t("mark_handled") + ": " + r.contact,
            onclick: function () { api("POST", "contact-requests/" + r.id + "/handled").then(refreshContacts); } });
        list.appendChild(el("li", { class: "contact-request" + (r.handled ? " done" : ""), "data-id": r.id }, [
          el("span", { class: "contact", text: r.contact }),
          el("span", { class: "details", text: [t("columns.contact_language") + ": " + r.language_name,
            t("channels." + r.channel), r.topic_title || "", new Date(r.created_at).toLocaleString()]
            .filter(Boolean).join(" · ") }),
          r.question ? el("span", { class: "question" }, [
            el("span", { class: "label", text: t("contact.question") + ": " }),
            el("q", { class: "preview", lang: r.question.language, dir: r.question.direction,
              bidiText: r.question.text }),
          ]) : null,
          contactConversation(r),
          handled,
        ]));
      });
    });
  }

  // The conversation before a contact request (masked), shown on demand under the request.
  function contactConversation(r) {
    var panelId = "contact-conversation-" + r.id;
    var panel = el("div", { id: panelId, class: "contact-conversation", hidden: "hidden" });
    var toggle = el("button", { type: "button", class: "secondary show-conversation", "aria-expanded": "false",
      "aria-controls": panelId, text: t("contact.show_conversation") });
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = t(open ? "contact.hide_conversation" : "contact.show_conversation");
      panel.hidden = !open;
      if (!open) return;
      panel.textContent = t("contact.loading");
      api("GET", "contact-requests/" + r.id + "/conversation").then(function (data) {
        panel.textContent = "";
        var titleId = panelId + "-title";
        panel.appendChild(el("h3", { id: titleId, text: t("contact.conversation") }));
        if (!data.messages || !data.messages.length) {
          panel.appendChild(el("p", { text: t("contact.no_conversation") }));
          return;
        }
        var log = el("ol", { class: "transcript", tabindex: "0", "aria-labelledby": titleId });
        data.messages.forEach(function (m) { log.appendChild(messageNode(m)); });
        panel.appendChild(log);
      });
    });
    return el("div", { class: "contact-more" }, [toggle, panel]);
  }

  // --- one conversation -------------------------------------------------------
  function messageNode(m) {
    if (m.event) {
      return el("li", { class: "message event", text: t("events." + m.event, { adviser: m.adviser || "" }) });
    }
    var who = t("senders." + m.sender) + (m.adviser ? " " + m.adviser : "");
    var body = el("div", { class: "text", lang: m.language, dir: m.script_direction, bidiText: m.text || "" });
    var buttons = m.buttons && m.buttons.length
      ? el("div", { class: "buttons", lang: m.language, dir: m.script_direction, text: "[" + m.buttons.join("] [") + "]" })
      : null;
    return el("li", { class: "message from-" + m.sender, "data-sender": m.sender }, [
      el("span", { class: "who", text: who }), body, buttons,
    ]);
  }
  function select(id) {
    state.selected = id;
    return refreshChat(true);
  }
  function refreshChat(focus) {
    if (state.selected === null) return Promise.resolve();
    return api("GET", "handoffs/" + state.selected).then(function (data) {
      var chat = document.getElementById("chat");
      chat.textContent = "";
      if (data._status !== 200) { chat.appendChild(el("p", { class: "error", text: t("not_yours") })); return; }
      var h = data.handoff;
      var heading = el("h2", { id: "chat-title", tabindex: "-1",
        text: t("transcript") + ": " + h.language_name + " · " + t("channels." + h.channel) + " · " +
          t("statuses." + h.status) });
      chat.appendChild(heading);
      // Whether the user is still there: from the queue (refreshed every 10 s); a chat no longer
      // in the queue (closed, or the user left) shows nothing.
      var item = queued(h.id);
      chat.appendChild(el("p", { class: "chat-presence" }, [presenceNode(item ? item.client : null, "chat-presence")]));
      // Focusable, so that the transcript can be scrolled with the keyboard.
      var list = el("ol", { id: "transcript", class: "transcript", "aria-live": "polite", tabindex: "0",
        "aria-labelledby": "chat-title" });
      data.messages.forEach(function (m) { list.appendChild(messageNode(m)); });
      chat.appendChild(list);
      if (h.status === "waiting") {
        chat.appendChild(el("button", { type: "button", id: "claim", text: t("claim"), onclick: claim }));
      }
      if (data.mine) chat.appendChild(actions());
      if (data.can_manage) chat.appendChild(adminActions());
      list.scrollTop = list.scrollHeight;
      if (focus) heading.focus();
    });
  }
  function claim() {
    api("POST", "handoffs/" + state.selected + "/claim").then(function (result) {
      if (result._status === 409) announce(t("claim_conflict"));
      refreshQueue();
      refreshChat(false).then(function () {
        var reply = document.getElementById("reply");
        if (reply) reply.focus();
      });
    });
  }
  // An admin on another adviser's chat: take it over, or put it back in the queue.
  function adminActions() {
    function act(path, done) {
      return function () {
        api("POST", "handoffs/" + state.selected + "/" + path).then(function (result) {
          announce(result._status === 200 ? t(done) : t("error"));
          refreshQueue();
          refreshChat(false);
        });
      };
    }
    return el("div", { class: "actions admin-actions" }, [
      el("p", { text: t("admin_actions") }),
      el("button", { type: "button", id: "take-over", text: t("take_over"), onclick: act("take-over", "take_over_done") }),
      el("button", { type: "button", id: "requeue", text: t("requeue"), onclick: act("requeue", "requeue_done") }),
    ]);
  }
  function actions() {
    var reply = el("textarea", { id: "reply", rows: "3", maxlength: "4000" });
    var form = el("form", { id: "reply-form" }, [
      el("label", { for: "reply", text: t("your_message") }), reply,
      el("button", { type: "submit", id: "send", text: t("send") }),
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = reply.value.trim();
      if (!text) return;
      api("POST", "handoffs/" + state.selected + "/messages", { text: text }).then(function (result) {
        if (result._status !== 200) { announce(t("error")); return; }
        reply.value = "";
        refreshChat(false).then(function () { document.getElementById("reply").focus(); });
      });
    });
    reply.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
    var targets = [el("option", { value: "queue", text: t("transfer_to_queue") })].concat(
      state.me.advisers.map(function (a) { return el("option", { value: String(a.id), text: t("transfer_to", { name: a.name }) }); }));
    var target = el("select", { id: "transfer-target" }, targets);
    var transfer = el("button", { type: "button", id: "transfer", text: t("transfer"), onclick: function () {
      var to = target.value === "queue" ? null : Number(target.value);
      api("POST", "handoffs/" + state.selected + "/transfer", { to: to }).then(function (result) {
        if (result._status !== 200) announce(t("error"));
        state.selected = null;
        document.getElementById("chat").textContent = "";
        refreshQueue();
      });
    } });
    var outcome = el("select", { id: "outcome" }, [el("option", { value: "", text: "—" })].concat(
      state.me.outcomes.map(function (group) {
        return el("optgroup", { label: group.title }, group.topics.map(function (topic) {
          return el("option", { value: topic.intent, text: topic.title });
        }));
      }), [el("option", { value: "other", text: t("outcome_other") })]));
    var close = el("button", { type: "button", id: "close", text: t("close"), onclick: function () {
      if (!outcome.value) { announce(t("close_needs_outcome")); outcome.focus(); return; }
      api("POST", "handoffs/" + state.selected + "/close", { outcome: outcome.value }).then(function (result) {
        if (result._status !== 200) { announce(t("error")); return; }
        refreshQueue();
        refreshChat(false);
      });
    } });
    return el("div", { class: "actions" }, [
      form,
      el("p", {}, [el("label", { for: "transfer-target", text: t("transfer") + " " }), target, transfer]),
      el("p", {}, [el("label", { for: "outcome", text: t("outcome") + " " }), outcome, close]),
    ]);
  }

  // --- live updates -------------------------------------------------------------
  function live() {
    if (typeof io !== "function") return;
    var socket = io("/", { path: "/console/socket.io" });
    socket.on("changed", function (change) {
      if (change.kind === "contacts") { refreshContacts(); return; }
      refreshQueue();
      if (change.kind === "handoffs") refreshContacts();
      if (state.selected !== null && (change.kind !== "message" || change.handoff_id === state.selected)) {
        refreshChat(false);
      }
    });
  }

  api("GET", "me").then(function (me) {
    state.me = me;
    state.texts = me.texts;
    document.documentElement.lang = me.adviser.ui_language;
    layout();
    refreshQueue();
    refreshContacts();
    live();
    // Presence, and a safety net for missed pushes.
    window.setInterval(function () { refreshQueue(); }, 10000);
  });
})();
