// The alerts page: the reader's rules (pause, resume, delete), the plain-language box (a
// sentence -> POST /alerts/parse -> a preview to confirm -> POST /alerts/rules), the recent
// firings with the values that fired them, and the delivery log of each firing. A firing
// appears without a reload: the page listens to `alert_triggered` events (GET /events/stream).
"use strict";

(() => {
  const R = RWA;
  const body = document.body;
  const limit = body.dataset.ruleLimit ? Number(body.dataset.ruleLimit) : null;
  const announce = (text) => (document.getElementById("announce").textContent = text);
  let rules = [];
  // Asset symbols by id (GET /assets), for targets and firings; ids alone if it fails.
  let symbols = new Map();
  const symbolsRead = R.assets()
    .then((listed) => (symbols = new Map(listed.map((a) => [a.asset_id, a.symbol]))))
    .catch(() => symbols);
  // The firings on screen (null before the first load): a firing not among them is new.
  let firingsShown = null;
  let deliveryFilter = null;
  let deliveryPoll = null;

  // --- a rule in words (the same words as api.alerts.rules.describe) --------------------------

  const num = (v) => String(Number(v.toPrecision(6)));
  const plural = (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`;

  function windowWords(minutes) {
    for (const [size, unit] of [[10080, "week"], [1440, "day"], [60, "hour"], [1, "minute"]]) {
      if (minutes % size === 0) return plural(minutes / size, unit);
    }
    return `${minutes} minutes`;
  }

  function moves(move, pct) {
    return `${{ up: "rises", down: "falls", either: "moves" }[move] || "moves"} ${num(pct)}%`;
  }

  function conditionWords(c) {
    switch (c.kind) {
      case "price": return `price is ${c.direction} ${num(c.level)} USD`;
      case "pct_move": return `price ${moves(c.move, c.pct)} within ${windowWords(c.window_minutes)}`;
      case "peg_deviation": return `deviates ${num(c.threshold_bps)} bps or more from its 1 USD peg`;
      case "nav_premium": return `${c.side === "either" ? "premium or discount" : c.side} to NAV reaches ${num(c.threshold_bps)} bps`;
      case "risk_score": return `risk score is ${c.direction} ${num(c.level)}`;
      case "sentiment_below": return `daily sentiment is below ${num(c.level)}`;
      case "forecast_return_7d": return `7-day forecast return is ${c.direction} ${num(c.level_pct)}%`;
      case "supply_change": return `on-chain supply ${moves(c.move, c.pct)} over ${windowWords(c.window_days * 1440)}`;
      case "holders_change": return `number of holders ${moves(c.move, c.pct)} over ${windowWords(c.window_days * 1440)}`;
      default: return c.kind;
    }
  }

  function targetWords(target) {
    if (target.kind === "asset_class") return `any ${target.asset_class.replace(/_/g, " ")}`;
    return symbols.get(target.asset_id) || target.asset_id.toUpperCase();
  }

  function channelWords(channel) {
    const where = channel.url || channel.address || channel.chat_id || "";
    return `${channel.type}: ${where}`;
  }

  function channelList(channels) {
    if (!channels.length) return R.el("span", { class: "muted", text: "dashboard only" });
    return R.el("ul", { class: "channels" }, ...channels.map((c) => R.el("li", { text: channelWords(c) })));
  }

  // --- rules -----------------------------------------------------------------------------------

  function setActive(rule, button) {
    button.disabled = true;
    R.send("PATCH", `/alerts/rules/${rule.id}`, { active: !rule.active })
      .then((changed) => {
        Object.assign(rule, changed);
        announce(`${rule.name}: ${rule.active ? "active" : "paused"}`);
        drawRules();
        // The row was drawn again: the keyboard stays on its button.
        document.querySelector(`#rules tr[data-id="${rule.id}"] [data-action=toggle]`).focus();
      })
      .catch((error) => showRuleError(rule, error))
      .finally(() => (button.disabled = false));
  }

  function askDelete(rule, cell) {
    const yes = R.el("button", { type: "button", class: "danger", "data-action": "confirm-delete", text: "Delete" });
    const no = R.el("button", { type: "button", "data-action": "keep", text: "Keep" });
    const question = R.el("span", { class: "confirm", role: "group", "aria-label": `Delete ${rule.name}?` }, "Delete this rule? ", yes, " ", no);
    cell.replaceChildren(question);
    no.addEventListener("click", () => drawRules());
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await R.send("DELETE", `/alerts/rules/${rule.id}`);
        rules = rules.filter((r) => r.id !== rule.id);
        announce(`Deleted ${rule.name}`);
        drawRules();
      } catch (error) {
        showRuleError(rule, error);
      }
    });
    yes.focus();
  }

  function showRuleError(rule, error) {
    const row = document.querySelector(`#rules tr[data-id="${rule.id}"]`);
    const message = `Could not change ${rule.name}: ${error.message}`;
    if (row) row.lastElementChild.replaceChildren(R.el("span", { class: "error", role: "alert", text: message }));
  }

  // Pause / Resume and Delete: buttons named by what they do to which rule.
  function actions(rule) {
    const verb = rule.active ? "Pause" : "Resume";
    const toggle = R.el("button", { type: "button", "data-action": "toggle", "aria-label": `${verb} ${rule.name}`, text: verb });
    toggle.addEventListener("click", () => setActive(rule, toggle));
    const remove = R.el("button", { type: "button", "data-action": "delete", text: "Delete", "aria-label": `Delete ${rule.name}` });
    const cell = R.el("span", { class: "actions" }, toggle, " ", remove);
    remove.addEventListener("click", () => askDelete(rule, cell));
    return cell;
  }

  const stateOf = (rule) => R.el("span", { class: `state ${rule.active ? "on" : "off"}`, text: rule.active ? "Active" : "Paused" });

  const RULE_COLUMNS = [
    { key: "name", label: "Name" },
    { key: "target_words", label: "Target" },
    { key: "condition_words", label: "Condition" },
    { key: "channels", label: "Channels", render: (r) => channelList(r.channels) },
    { key: "cooldown_minutes", label: "Cooldown", numeric: true, format: (v) => (v ? windowWords(v) : "none") },
    { key: "active", label: "State", render: stateOf },
    { key: "id", label: "Actions", render: actions },
  ];

  function drawRules() {
    const parts = R.panelParts("rules");
    const count = `${rules.length}${limit === null ? "" : ` of ${limit}`} rules`;
    parts.source.textContent = `${count} · GET /alerts/rules`;
    if (!rules.length) {
      R.setState(parts, "empty", "No alert rule yet: write one in the box above.");
      return;
    }
    parts.root.dataset.state = "ready";
    for (const r of rules) {
      r.target_words = targetWords(r.target);
      r.condition_words = conditionWords(r.condition);
    }
    // The rows are the rules themselves: a button's change is kept in `rules`.
    R.sortableTable(parts.body, RULE_COLUMNS, rules, { sortKey: false, id: (r) => String(r.id) });
  }

  async function loadRules() {
    const [page] = await Promise.all([R.getJson("/alerts/rules?limit=500"), symbolsRead]);
    rules = page.rules;
    drawRules();
    return rules.length ? null : { empty: "No alert rule yet: write one in the box above." };
  }

  // --- the plain-language box ------------------------------------------------------------------

  const form = document.getElementById("sentence-form");
  const input = document.getElementById("sentence");
  const explain = document.getElementById("not-understood");
  const preview = document.getElementById("preview");
  const saveMessage = document.getElementById("save-message");
  let parsed = null;

  // What the 422 of POST /alerts/parse says: the part not understood, what was expected
  // there and an example that works (a button puts it in the box).
  function showNotUnderstood(detail) {
    const first = Array.isArray(detail) ? detail[0] || {} : { msg: String(detail) };
    const ctx = first.ctx || {};
    const parts = [R.el("p", { class: "what", text: "Not understood: " + (first.msg || "the sentence") })];
    if (ctx.not_understood) parts.push(R.el("p", {}, "At: ", R.el("mark", { text: ctx.not_understood })));
    if (ctx.expected && ctx.expected.length) parts.push(R.el("p", { text: "Expected there: " + ctx.expected.join(", ") }));
    if (ctx.example) {
      const use = R.el("button", { type: "button", class: "link-button", "data-action": "use-example", text: ctx.example });
      use.addEventListener("click", () => {
        input.value = ctx.example;
        input.focus();
      });
      parts.push(R.el("p", {}, "Try: ", use));
    }
    explain.replaceChildren(...parts);
    explain.hidden = false;
  }

  // Channels the sentence named without saying where ("on telegram"): asked for here.
  const MISSING = {
    telegram: { label: "Telegram chat id", type: "text", pattern: "-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}", field: "chat_id", placeholder: "123456789" },
    webhook: { label: "Webhook URL", type: "url", pattern: "https?://.+", field: "url", placeholder: "https://example.com/hooks/rwa" },
    email: { label: "E-mail address", type: "email", field: "address", placeholder: "me@example.com" },
  };

  function showPreview(answer) {
    parsed = answer;
    const rule = answer.rule;
    document.getElementById("preview-summary").textContent = answer.summary;
    const fact = (name, value) => [R.el("dt", { text: name }), R.el("dd", {}, value)];
    const hold = rule.hold_minutes ? `, holding for ${windowWords(rule.hold_minutes)}` : "";
    document.getElementById("preview-facts").replaceChildren(
      ...fact("Target", targetWords(rule.target)),
      ...fact("Condition", conditionWords(rule.condition) + hold),
      ...fact("Channels", channelList(rule.channels)),
      ...fact("Cooldown", rule.cooldown_minutes ? windowWords(rule.cooldown_minutes) : "none"),
    );
    const missing = answer.incomplete_channels.filter((type) => MISSING[type]);
    document.getElementById("preview-missing").replaceChildren(
      ...missing.map((type) => {
        const m = MISSING[type];
        const attrs = { type: m.type, name: type, required: "", placeholder: m.placeholder, "data-field": m.field };
        if (m.pattern) attrs.pattern = m.pattern;
        return R.el("label", { class: "missing" }, m.label + " ", R.el("input", attrs));
      }),
    );
    explain.hidden = true;
    preview.hidden = false;
    preview.querySelector("button[type=submit]").focus();
  }

  function resetPreview() {
    parsed = null;
    preview.hidden = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    resetPreview();
    saveMessage.textContent = "";
    explain.hidden = true;
    try {
      showPreview(await R.send("POST", "/alerts/parse", { text }));
    } catch (error) {
      if (error.status === 422) showNotUnderstood(error.detail);
      else if (error.status !== 401) showNotUnderstood("could not read the sentence: " + error.message);
    }
  });

  // A 422 of POST /alerts/rules names the fields: "channels.0.chat_id: String should match…".
  function rejection(error) {
    if (error.status === 422 && Array.isArray(error.detail)) {
      return error.detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return error.message;
  }

  preview.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!parsed) return;
    const added = [...preview.querySelectorAll("#preview-missing input")].map((field) => ({
      type: field.name,
      [field.dataset.field]: field.value.trim(),
    }));
    const rule = { ...parsed.rule, channels: [...parsed.rule.channels, ...added] };
    const button = preview.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const saved = await R.send("POST", "/alerts/rules", rule);
      rules.push(saved);
      drawRules();
      resetPreview();
      input.value = "";
      saveMessage.className = "message saved";
      saveMessage.textContent = `Saved: ${saved.name}`;
    } catch (error) {
      saveMessage.className = "message";
      if (error.status !== 401) saveMessage.textContent = "Not saved: " + rejection(error);
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("preview-cancel").addEventListener("click", () => {
    resetPreview();
    input.focus();
  });

  // --- firings and their deliveries --------------------------------------------------------------

  const count = (v) => (v === null || v === undefined ? "–" : String(v));
  const when = (v) => (v ? R.formatTime(v) : "–");

  function ruleName(ruleId, fallback) {
    const rule = rules.find((r) => r.id === ruleId);
    return fallback || (rule ? rule.name : `rule ${ruleId}`);
  }

  // The values that fired a rule, as evaluation stored them (api.alerts.evaluation): the
  // observed value under its kind's name, and the threshold it crossed (a level in a
  // direction, or a size of a move), beside what else was recorded (a window, the price).
  const VALUE_NAMES = {
    price: "price",
    pct_move: "change_pct",
    peg_deviation: "deviation_bps",
    nav_premium: "premium_bps",
    risk_score: "risk_score",
    sentiment_below: "sentiment",
    forecast_return_7d: "return_7d_pct",
    supply_change: "change_pct",
    holders_change: "change_pct",
  };
  const UNITS = { change_pct: "%", return_7d_pct: "%", deviation_bps: " bps", premium_bps: " bps", price: " USD" };
  const shown = (v) => (typeof v === "number" ? num(v) : String(v));

  function observedCell(firing) {
    const o = firing.observed || {};
    const name = VALUE_NAMES[firing.condition_kind] || Object.keys(o).find((k) => typeof o[k] === "number");
    if (!name || o[name] === undefined) return "–";
    const value = R.el("strong", { text: `${shown(o[name])}${UNITS[name] || ""}` });
    return R.el("span", {}, `${name.replace(/_/g, " ")} `, value);
  }

  function thresholdCell(firing) {
    const o = firing.observed || {};
    const name = VALUE_NAMES[firing.condition_kind];
    const limit = o.level ?? o.threshold;
    if (limit === undefined) return "–";
    const side = o.direction || (o.move && o.move !== "either" ? o.move : "by");
    const window = o.window_minutes ? ` within ${windowWords(o.window_minutes)}` : o.window_days ? ` over ${windowWords(o.window_days * 1440)}` : "";
    return `${side} ${shown(limit)}${UNITS[name] || ""}${window}`;
  }

  const STATUS = { sent: "good", failed: "bad", pending: "warn", sending: "warn" };

  // The delivery log, read once per drawing for both tables (null: read it again).
  let deliveryLog = null;
  function loadDeliveries() {
    deliveryLog = deliveryLog || R.getJson("/alerts/deliveries?limit=200").then((a) => a.deliveries);
    return deliveryLog;
  }

  const statusBadge = (d) => R.el("span", { class: `status ${STATUS[d.status] || ""}`, text: d.status });

  // A firing's deliveries at a glance ("telegram sent"), a click away from their log.
  function deliveriesCell(firing, log) {
    const own = log.filter((d) => d.firing_id === firing.id);
    if (!own.length) return R.el("span", { class: "muted", text: "dashboard only" });
    const button = R.el("button", { type: "button", class: "link-button", "data-action": "deliveries", "aria-label": `Delivery log of firing ${firing.id}`, text: "log" });
    button.addEventListener("click", () => {
      deliveryFilter = firing.id;
      R.drawPanels({ deliveries });
      document.getElementById("deliveries").scrollIntoView({ block: "nearest" });
    });
    return R.el("span", { class: "deliveries" }, ...own.flatMap((d) => [`${d.channel} `, statusBadge(d), " · "]), button);
  }

  async function firings(parts) {
    const [answer, log] = await Promise.all([R.getJson("/alerts/firings?limit=50"), loadDeliveries(), symbolsRead]);
    const list = answer.firings;
    R.source(parts, "GET /alerts/firings (newest first), GET /alerts/deliveries", null);
    const fresh = firingsShown ? list.filter((f) => !firingsShown.has(f.id)) : [];
    firingsShown = new Set(list.map((f) => f.id));
    if (!list.length) return { empty: "Nothing fired yet." };
    R.sortableTable(parts.body, [
      { key: "fired_at", label: "Fired", format: when },
      { key: "rule_id", label: "Rule", render: (f) => ruleName(f.rule_id, f.rule_name) },
      { key: "asset_id", label: "Asset", render: (f) => R.assetLink({ asset_id: f.asset_id, symbol: symbols.get(f.asset_id) }) },
      { key: "observed", label: "Observed", render: observedCell },
      { key: "threshold", label: "Threshold", render: thresholdCell },
      { key: "data_ts", label: "Data time", format: when },
      { key: "id", label: "Deliveries", render: (f) => deliveriesCell(f, log) },
    ], list, { sortKey: false, id: (f) => String(f.id) });
    for (const f of fresh) {
      parts.body.querySelector(`tr[data-id="${f.id}"]`).classList.add("new");
      announce(`New firing: ${ruleName(f.rule_id, f.rule_name)} on ${f.asset_id}`);
    }
    return null;
  }

  // Why the last attempt did not deliver, with the receiver's status code when it answered.
  function lastError(d) {
    const code = d.last_status_code ? R.el("span", { class: "muted", text: ` (${d.last_status_code})` }) : null;
    return R.el("span", { class: "wrap" }, d.last_error || "–", d.last_error ? code : null);
  }

  async function deliveries(parts) {
    clearTimeout(deliveryPoll);
    const log = await loadDeliveries();
    // One firing's log is asked for by its id: it may be older than the newest entries.
    const list = deliveryFilter === null
      ? log
      : (await R.getJson("/alerts/deliveries" + R.query({ firing_id: deliveryFilter, limit: 100 }))).deliveries;
    R.source(parts, `GET /alerts/deliveries${deliveryFilter === null ? "" : ` · firing ${deliveryFilter}`}`, null);
    // Deliveries under way change without an event: look again shortly.
    if (log.some((d) => d.status === "pending" || d.status === "sending")) {
      deliveryPoll = setTimeout(refresh, 5000);
    }
    if (!list.length) return { empty: "Nothing delivered yet." };
    const table = R.el("div", { class: "table-wrap" });
    R.sortableTable(table, [
      { key: "firing_id", label: "Firing", numeric: true },
      { key: "channel", label: "Channel" },
      { key: "destination", label: "Destination", render: (d) => R.el("span", { class: "wrap", text: d.destination }) },
      { key: "status", label: "Status", render: statusBadge },
      { key: "attempts", label: "Attempts", numeric: true, format: count },
      { key: "last_error", label: "Last error", render: lastError },
      { key: "next_attempt_at", label: "Next attempt", format: (v) => when(v) },
      { key: "sent_at", label: "Sent", format: when },
    ], list, { sortKey: false, id: (d) => String(d.id) });
    const all = R.el("button", { type: "button", "data-action": "all-deliveries", text: "Show every firing's deliveries" });
    all.addEventListener("click", () => {
      deliveryFilter = null;
      R.drawPanels({ deliveries });
    });
    parts.body.replaceChildren(table, deliveryFilter === null ? "" : all);
    return null;
  }

  // Firings and deliveries read again: on an alert_triggered event, and while a delivery is
  // under way.
  function refresh() {
    deliveryLog = null;
    return R.drawPanels({ firings, deliveries });
  }

  R.drawPanels({ rules: loadRules, firings, deliveries });
  R.live(["alert_triggered"], refresh);
})();
