// What every dashboard page shares: fetching the API (same origin, the token cookie), panels
// with loading / empty / error states, charts (Apache ECharts, served from this origin),
// number formats, the time-range presets, the asset search and logging out.
//
// A page is "drawn" when every panel has its data on screen: then <body data-drawn> holds the
// milliseconds since navigation (read by bench/dashboard.py and the browser tests).
"use strict";

const RWA = (() => {
  const body = document.body;
  const features = new Set((body.dataset.features || "").split(" ").filter(Boolean));

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  function signIn() {
    const here = location.pathname + location.search;
    location.assign("/dashboard/login?next=" + encodeURIComponent(here));
  }

  // The chart library loads async (base.html): requests go out at once, and every answer is
  // handed on only once the library is there too, so the code that draws it can use it.
  const chartLibrary = new Promise((resolve) => {
    const script = document.getElementById("chart-library");
    if (!script || window.echarts) return resolve();
    // On an error `chart()` says the library is missing, in the panel.
    script.addEventListener("load", resolve);
    script.addEventListener("error", resolve);
  });

  async function refreshSession() {
    // The refresh cookie is scoped to /auth: the browser sends it here only.
    const answer = await fetch("/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ use_cookies: true }),
    });
    return answer.ok;
  }

  // One request with the session's cookie, renewed once on a 401; an ApiError (with the
  // answer's `detail`, as sent, in `.detail`) for any other failure.
  async function call(path, init) {
    const request = () => fetch(path, { credentials: "same-origin", ...init });
    let answer = await request();
    if (answer.status === 401 && (await refreshSession())) answer = await request();
    if (answer.status === 401) {
      signIn();
      throw new ApiError(401, "signed out");
    }
    if (!answer.ok) {
      let detail = answer.statusText;
      try {
        detail = (await answer.json()).detail || detail;
      } catch (_) {
        /* a body that is not JSON: keep the status text */
      }
      const error = new ApiError(answer.status, typeof detail === "string" ? detail : JSON.stringify(detail));
      error.detail = detail;
      throw error;
    }
    return answer;
  }

  async function getJson(path) {
    const answer = await call(path, { headers: { Accept: "application/json" } });
    const [data] = await Promise.all([answer.json(), chartLibrary]);
    return data;
  }

  // A write (POST, PATCH, DELETE) with a JSON body; the answer's JSON, or null (204). Cross-site
  // requests cannot forge it: the token cookie is SameSite=Strict, and the API reads a body as
  // JSON only when it is sent as JSON, which a form of another site cannot do
  // (docs/security.md, "The dashboard's login").
  async function send(method, path, body) {
    const answer = await call(path, {
      method,
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return answer.status === 204 ? null : answer.json();
  }

  // --- live events (Server-Sent Events, GET /events/stream) -----------------------------------

  // Calls `onEvent({type, ts, payload})` for each event of `types` the server pushes, for as
  // long as the page is open. The header's indicator (and its data-state, read by the tests)
  // says whether the stream is connected. The browser reconnects on its own after a network
  // error; a refused stream (an expired access token) is retried once the session is renewed.
  function live(types, onEvent) {
    const indicator = document.getElementById("live-status");
    if (!indicator) return; // signed out: no stream
    const show = (state, text) => {
      indicator.hidden = false;
      indicator.dataset.state = state;
      indicator.textContent = text;
    };
    const handle = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return; // a comment or keep-alive line
      }
      if (event && types.includes(event.type)) onEvent(event);
    };
    let renewals = 0;
    const connect = () => {
      show("connecting", "Connecting…");
      const source = new EventSource("/events/stream" + query({ types: types.join(",") }));
      source.addEventListener("open", () => {
        renewals = 0;
        show("on", "Live");
      });
      source.addEventListener("message", handle);
      for (const type of types) source.addEventListener(type, handle);
      source.addEventListener("error", async () => {
        if (source.readyState === EventSource.CONNECTING) return show("connecting", "Reconnecting…");
        show("off", "Not live");
        if (renewals++ < 3 && (await refreshSession())) connect();
      });
    };
    connect();
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") search.set(key, value);
    }
    const text = search.toString();
    return text ? "?" + text : "";
  }

  // --- panels --------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function panelParts(id) {
    const root = document.getElementById(id);
    return {
      root,
      chartBox: root.querySelector("[data-chart]"),
      body: root.querySelector("[data-body]"),
      source: root.querySelector("[data-source]"),
    };
  }

  function setState(parts, kind, message) {
    parts.root.dataset.state = kind;
    if (parts.chartBox) {
      const instance = window.echarts && echarts.getInstanceByDom(parts.chartBox);
      if (instance && kind !== "ready") instance.dispose();
      parts.chartBox.hidden = kind !== "ready";
    }
    if (kind !== "ready") parts.body.replaceChildren(el("p", { class: kind, text: message }));
  }

  function source(parts, what, asOf) {
    const when = asOf ? " · as of " + formatTime(asOf) : "";
    parts.source.textContent = "Source: " + what + when;
  }

  // Run a page's panels: each `load(parts)` draws its panel (or throws); an error is shown in
  // the panel that failed, the others draw anyway. Resolves when all are settled, and with
  // them the promises in `also` (parts of the page that are not panels).
  async function drawPanels(loaders, also = []) {
    const started = Object.entries(loaders).map(async ([id, load]) => {
      const parts = panelParts(id);
      parts.root.dataset.state = "loading";
      try {
        const outcome = await load(parts);
        if (outcome && outcome.empty) setState(parts, "empty", outcome.empty);
        else parts.root.dataset.state = "ready";
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return;
        setState(parts, "error", "Could not load this panel: " + error.message);
      }
    });
    await Promise.all([...started, ...also]);
    markDrawn();
  }

  function markDrawn() {
    // Two frames: the charts' canvases are painted by then.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        body.dataset.drawn = String(Math.round(performance.now()));
      }),
    );
  }

  // --- charts --------------------------------------------------------------------------------

  const charts = new Set();

  function chart(parts, option) {
    if (!window.echarts) {
      throw new Error("the chart library is missing (run bash infra/local/install.sh)");
    }
    parts.chartBox.hidden = false;
    // SVG, not canvas: in a browser drawing without a GPU, the asset page was drawn in
    // 0.8-0.9 s instead of 1.0-1.2 s (docs/benchmarks.md, "Dashboard pages").
    const instance =
      echarts.getInstanceByDom(parts.chartBox) || echarts.init(parts.chartBox, null, { renderer: "svg" });
    // No animation: a chart is complete as soon as it is set, which is what a reader (and the
    // drawn-time benchmark) waits for.
    instance.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, ...option }, true);
    charts.add(instance);
    return instance;
  }

  // A chart over time: a legend on top, an axis tooltip and one time axis; `option` adds the
  // y axes and the series (and may replace any of those).
  function timeChart(parts, option) {
    return chart(parts, {
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis" },
      grid: { left: 64, right: 64, top: 36, bottom: 28 },
      xAxis: timeAxis(),
      ...option,
    });
  }

  window.addEventListener("resize", () => charts.forEach((c) => c.isDisposed() || c.resize()));

  const palette = ["#2f6db5", "#d9822b", "#3a9b6b", "#b54a5b", "#7a5bb5", "#5b8fa8", "#a8895b"];

  function timeAxis(extra = {}) {
    return { type: "time", axisLine: { lineStyle: { color: "#8a94a3" } }, axisLabel: { hideOverlap: true }, ...extra };
  }

  function valueAxis(extra = {}) {
    return { type: "value", scale: true, splitLine: { lineStyle: { color: "#eef0f3" } }, ...extra };
  }

  // --- formats -------------------------------------------------------------------------------

  function formatNumber(value, digits = 2) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const abs = Math.abs(value);
    const units = [
      [1e12, "T"],
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "k"],
    ];
    for (const [size, suffix] of units) {
      if (abs >= size) return (value / size).toFixed(digits) + suffix;
    }
    return value.toFixed(abs < 10 ? Math.max(digits, 4) : digits);
  }

  function formatUsd(value, digits = 2) {
    return value === null || value === undefined ? "–" : "$" + formatNumber(value, digits);
  }

  function formatPercent(value, digits = 2) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(digits) + "%";
  }

  function formatTime(value) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$|:\d\dZ$/, " UTC");
  }

  function formatDay(value) {
    return new Date(value).toISOString().slice(0, 10);
  }

  // --- time ranges (?range=<days>) ------------------------------------------------------------

  function rangeDays() {
    const group = document.querySelector(".ranges");
    const asked = new URLSearchParams(location.search).get("range");
    const fallback = group ? group.dataset.default : "90";
    const days = Number(asked || fallback);
    return Number.isInteger(days) && days > 0 && days <= 5000 ? days : Number(fallback);
  }

  function setupRanges(onChange) {
    const group = document.querySelector(".ranges");
    if (!group) return;
    const mark = () =>
      group.querySelectorAll("button").forEach((b) => {
        b.setAttribute("aria-pressed", String(Number(b.dataset.range) === rangeDays()));
      });
    mark();
    group.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (!button) return;
      const url = new URL(location.href);
      url.searchParams.set("range", button.dataset.range);
      history.replaceState(null, "", url);
      mark();
      delete body.dataset.drawn;
      onChange();
    });
  }

  // --- asset list, search, logout --------------------------------------------------------------

  let assetList = null;
  function assets() {
    if (!assetList) assetList = getJson("/assets");
    return assetList;
  }

  function setupSearch() {
    const form = document.getElementById("asset-search");
    if (!form) return;
    const input = form.elements.q;
    const options = document.getElementById("asset-options");
    input.addEventListener(
      "focus",
      async () => {
        if (options.childElementCount) return;
        for (const a of await assets()) {
          options.append(el("option", { value: a.symbol, label: a.name }));
        }
      },
      { once: true },
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wanted = input.value.trim().toLowerCase();
      if (!wanted) return;
      const list = await assets();
      const hit = list.find(
        (a) =>
          a.asset_id === wanted ||
          a.symbol.toLowerCase() === wanted ||
          a.name.toLowerCase() === wanted,
      ) || list.find((a) => a.name.toLowerCase().includes(wanted));
      const id = hit ? hit.asset_id : wanted;
      location.assign("/dashboard/assets/" + encodeURIComponent(id));
    });
  }

  function setupLogout() {
    const button = document.getElementById("logout");
    if (!button) return;
    button.addEventListener("click", async () => {
      await fetch("/auth/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      location.assign("/dashboard/login");
    });
  }

  // --- tables ----------------------------------------------------------------------------------

  // A table of `rows` with `columns` [{key, label, format, numeric}], sortable by clicking a
  // header (toggling the direction), optionally filtered by `filter(row)`; each row's data-id
  // is `id(row)` (default: its asset_id).
  function sortableTable(container, columns, rows, options = {}) {
    // sortKey false: the rows' own order until a header is clicked.
    let sortKey = options.sortKey === false ? null : options.sortKey || columns[0].key;
    let descending = options.descending ?? false;
    const table = el("table", { class: "data" });
    const head = el("tr");
    for (const column of columns) {
      const th = el("th", { "data-key": column.key, scope: "col", text: column.label });
      if (column.numeric) th.classList.add("num");
      th.addEventListener("click", () => {
        descending = sortKey === column.key ? !descending : Boolean(column.numeric);
        sortKey = column.key;
        render();
      });
      head.append(th);
    }
    const tbody = el("tbody");
    table.append(el("thead", {}, head), tbody);
    container.replaceChildren(table);

    function visible() {
      const kept = options.filter ? rows.filter(options.filter) : rows.slice();
      if (sortKey === null) return kept;
      const present = kept.filter((r) => r[sortKey] !== null && r[sortKey] !== undefined);
      const missing = kept.filter((r) => r[sortKey] === null || r[sortKey] === undefined);
      present.sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      return present.concat(missing);
    }

    function render() {
      head.querySelectorAll("th").forEach((th) => {
        th.removeAttribute("aria-sort");
        if (th.dataset.key === sortKey) {
          th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        }
      });
      const shown = visible();
      tbody.replaceChildren(
        ...shown.map((row) => {
          const tr = el("tr", { "data-id": options.id ? options.id(row) : row.asset_id || "" });
          for (const column of columns) {
            const value = row[column.key];
            const cell = column.render ? column.render(row) : column.format ? column.format(value) : value ?? "–";
            const td = el("td", {}, cell);
            if (column.numeric) td.classList.add("num");
            tr.append(td);
          }
          return tr;
        }),
      );
      if (!shown.length) {
        tbody.append(el("tr", {}, el("td", { colspan: String(columns.length), class: "empty", text: "No row matches." })));
      }
      return shown;
    }

    const api = {
      render,
      visible,
      setFilter(filter) {
        options.filter = filter;
        render();
      },
    };
    render();
    return api;
  }

  function toCsv(columns, rows) {
    const cell = (value) => {
      if (value === null || value === undefined) return "";
      const text = String(value);
      return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
    };
    const lines = [columns.map((c) => cell(c.key)).join(",")];
    for (const row of rows) lines.push(columns.map((c) => cell(row[c.key])).join(","));
    return lines.join("\r\n") + "\r\n";
  }

  function download(filename, text, type = "text/csv") {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function assetLink(row) {
    return el("a", { href: "/dashboard/assets/" + encodeURIComponent(row.asset_id), text: row.symbol || row.asset_id });
  }

  setupSearch();
  setupLogout();

  return {
    ApiError,
    features,
    call,
    getJson,
    send,
    live,
    query,
    el,
    panelParts,
    setState,
    source,
    drawPanels,
    markDrawn,
    chart,
    timeChart,
    palette,
    timeAxis,
    valueAxis,
    formatNumber,
    formatUsd,
    formatPercent,
    formatTime,
    formatDay,
    rangeDays,
    setupRanges,
    assets,
    sortableTable,
    toCsv,
    download,
    assetLink,
  };
})();
