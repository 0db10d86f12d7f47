// The portfolios page: the reader's portfolios (pick one, create one), its figures (value,
// unrealized, realized and total P&L), value and P&L over time, allocation by asset, class,
// network or issuer, the holdings with their prices, the risk panel (tiers with risk detail),
// a transaction form and a CSV import. A serving load that changes the portfolio's value
// pushes a `portfolio_update` event (GET /events/stream, to the owner only): the figures
// change in place and the panels are read again.
//
// Money comes as exact decimal strings (GET /portfolios/...): parsed to numbers here only to
// be shown or charted.
"use strict";

(() => {
  const R = RWA;
  const body = document.body;
  const limit = body.dataset.portfolioLimit ? Number(body.dataset.portfolioLimit) : null;
  const picker = document.getElementById("portfolio-select");
  const pdf = document.getElementById("pdf-report");
  const announce = (text) => (document.getElementById("announce").textContent = text);
  const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));
  // Money: cents below a thousand, then k / M / B.
  const money = (v, digits = 2) => {
    const n = num(v);
    if (n === null) return "–";
    const text = Math.abs(n) < 1000 ? "$" + Math.abs(n).toFixed(digits) : R.formatUsd(Math.abs(n), digits);
    return (n < 0 ? "−" : "") + text;
  };
  const usd = (v) => money(v);
  const signed = (v) => {
    const n = num(v);
    return n === null ? "–" : (n > 0 ? "+" : "") + money(n);
  };
  const NO_PORTFOLIO = "No portfolio yet: create one below, then add its transactions.";

  let portfolios = [];
  let current = null; // the shown portfolio's id
  let allocationBy = "asset";
  let valuationRead = null; // one GET .../valuation per drawing, for the panels that need it

  const path = (suffix = "") => `/portfolios/${current}${suffix}`;
  function valuation() {
    valuationRead = valuationRead || R.getJson(path("/valuation"));
    return valuationRead;
  }

  // --- the portfolio picker ----------------------------------------------------------------------

  function fillPicker() {
    picker.replaceChildren(...portfolios.map((p) => R.el("option", { value: String(p.id), text: p.name })));
    picker.disabled = !portfolios.length;
    if (current !== null) picker.value = String(current);
    if (pdf) {
      pdf.hidden = current === null;
      pdf.href = current === null ? "#" : `/reports/portfolios/${current}.pdf`;
    }
  }

  // After a portfolio was created: the list read again, `wanted` shown.
  async function loadPortfolios(wanted) {
    portfolios = (await R.getJson("/portfolios?limit=500")).portfolios;
    const found = portfolios.find((p) => p.id === wanted) || portfolios[0];
    current = found ? found.id : null;
    fillPicker();
  }

  function show(id) {
    current = id;
    const url = new URL(location.href);
    url.searchParams.set("portfolio", String(id));
    history.replaceState(null, "", url);
    fillPicker();
    return drawAll();
  }

  picker.addEventListener("change", () => show(Number(picker.value)));

  // --- figures -------------------------------------------------------------------------------------

  const kpiBox = document.getElementById("kpis");

  function kpi(id, label, value, change) {
    const n = num(change ?? value);
    const tone = change === undefined ? "" : n > 0 ? " up" : n < 0 ? " down" : "";
    return R.el("div", { class: "kpi", id }, R.el("div", { class: "label", text: label }), R.el("div", { class: `value${tone}`, text: value }));
  }

  // `f`: value, unrealized_pnl, realized_pnl, total_pnl (decimal strings), as_of.
  function drawFigures(f) {
    const realized = f.realized_pnl ?? (num(f.total_pnl) - num(f.unrealized_pnl));
    kpiBox.replaceChildren(
      kpi("kpi-value", "Value", usd(f.value)),
      kpi("kpi-unrealized", "Unrealized P&L", signed(f.unrealized_pnl), f.unrealized_pnl),
      kpi("kpi-realized", "Realized P&L", signed(realized), realized),
      kpi("kpi-total", "Total P&L", signed(f.total_pnl), f.total_pnl),
      kpi("kpi-as-of", "Prices of", f.as_of ? R.formatDay(f.as_of) : "–"),
    );
    kpiBox.dataset.state = "ready";
  }

  async function figures() {
    if (current === null) {
      kpiBox.replaceChildren();
      kpiBox.dataset.state = "empty";
      return;
    }
    const v = await valuation();
    drawFigures({ value: v.market_value, unrealized_pnl: v.unrealized_pnl, realized_pnl: v.realized_pnl, total_pnl: v.total_pnl, as_of: v.as_of });
  }

  // --- holdings ------------------------------------------------------------------------------------

  function priceCell(p) {
    if (p.price === null || p.price === undefined) return R.el("span", { class: "muted", text: "no price" });
    const source = p.price_source === "nav" ? "NAV" : "close";
    return R.el("span", {}, R.formatUsd(num(p.price)), " ", R.el("span", { class: "muted", text: source }));
  }

  async function holdings(parts) {
    if (current === null) return { empty: NO_PORTFOLIO };
    const v = await valuation();
    R.source(parts, `GET ${path("/valuation")} (${v.cost_method === "average" ? "average cost" : "FIFO"})`, v.as_of);
    if (!v.positions.length) return { empty: "Nothing held: add a buy or a transfer in below." };
    const rows = v.positions.map((p) => ({ ...p, value_n: num(p.market_value), pnl_n: num(p.unrealized_pnl), qty_n: num(p.quantity) }));
    R.sortableTable(parts.body, [
      { key: "asset_id", label: "Asset", render: (p) => R.assetLink(p) },
      { key: "qty_n", label: "Quantity", numeric: true, render: (p) => p.quantity },
      { key: "price", label: "Price", numeric: true, render: priceCell },
      { key: "value_n", label: "Value", numeric: true, format: usd },
      { key: "cost_basis", label: "Cost basis", numeric: true, format: usd },
      { key: "average_cost", label: "Average cost", numeric: true, format: (x) => R.formatUsd(num(x)) },
      { key: "pnl_n", label: "Unrealized P&L", numeric: true, format: signed },
      { key: "realized_pnl", label: "Realized P&L", numeric: true, format: signed },
      { key: "weight", label: "Weight", numeric: true, format: (w) => R.formatPercent(w, 1) },
    ], rows, { sortKey: "value_n", descending: true });
    if (v.unpriced && v.unpriced.length) {
      parts.body.append(R.el("p", { class: "hint", text: `Without a served price (left out of the totals): ${v.unpriced.join(", ")}` }));
    }
    return null;
  }

  // --- value and P&L over time --------------------------------------------------------------------

  async function valueHistory(parts) {
    if (current === null) return { empty: NO_PORTFOLIO };
    const answer = await R.getJson(path("/pnl"));
    const days = answer.days;
    const last = days.length ? days[days.length - 1].day : null;
    R.source(parts, `GET ${path("/pnl")} (daily, at each day's close or NAV)`, last);
    if (!days.length) return { empty: "No priced day yet." };
    const line = (name, key, color, axis = 0) => ({
      name,
      type: "line",
      showSymbol: false,
      yAxisIndex: axis,
      lineStyle: { width: axis ? 1.5 : 2, color },
      itemStyle: { color },
      data: days.map((d) => [d.day, d[key]]),
    });
    const axisMoney = (x) => money(x, 0);
    R.timeChart(parts, {
      grid: { left: 64, right: 64, top: 56, bottom: 28 },
      yAxis: [
        R.valueAxis({ name: "Value (USD)", axisLabel: { formatter: axisMoney } }),
        R.valueAxis({ name: "P&L (USD)", position: "right", splitLine: { show: false }, axisLabel: { formatter: axisMoney } }),
      ],
      series: [
        line("Value", "market_value", R.palette[0]),
        line("Total P&L", "total_pnl", R.palette[2], 1),
        line("Unrealized P&L", "unrealized_pnl", R.palette[1], 1),
      ],
    });
    parts.body.replaceChildren();
    return null;
  }

  // --- allocation ------------------------------------------------------------------------------------

  const GROUPING = { asset: "by_asset", class: "by_asset_class", network: "by_network", issuer: "by_issuer" };
  const byButtons = document.getElementById("allocation-by");

  async function allocation(parts) {
    if (current === null) return { empty: NO_PORTFOLIO };
    const answer = await R.getJson(path("/allocation"));
    const slices = answer[GROUPING[allocationBy]] || [];
    R.source(parts, `GET ${path("/allocation")} (share of the priced value)`, answer.as_of);
    if (!slices.length) return { empty: "Nothing priced held." };
    R.chart(parts, {
      tooltip: { trigger: "item", formatter: (p) => `${p.name}: ${money(p.value)} (${p.percent}%)` },
      legend: { type: "scroll", bottom: 0, formatter: (name) => name.replace(/_/g, " ") },
      color: R.palette,
      series: [{
        name: `By ${allocationBy}`,
        type: "pie",
        radius: ["40%", "70%"],
        center: ["50%", "46%"],
        // Small slices are in the legend and the tooltip, not labelled over each other.
        minShowLabelAngle: 12,
        label: { formatter: (p) => `${p.name.replace(/_/g, " ")}: ${p.percent}%` },
        data: slices.map((s) => ({ name: s.key, value: num(s.market_value) })),
      }],
    });
    parts.body.replaceChildren();
    return null;
  }

  byButtons.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-by]");
    if (!button) return;
    allocationBy = button.dataset.by;
    byButtons.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    R.drawPanels({ allocation });
  });

  // --- risk (tiers with risk detail): every figure names its method --------------------------

  const share = (v) => (v === null || v === undefined ? "–" : R.formatPercent(v));
  const score = (v) => (v === null || v === undefined ? "not scored" : `${Math.round(v)} / 100`);

  // "historical: filtered historical simulation (...)" -> "historical"; the parametric ones by
  // their quantile. The full names are listed under the table.
  function methodLabel(method) {
    const kind = method.split(":")[0];
    if (/Student-t/.test(method)) return `${kind} (Student-t)`;
    if (/normal/.test(method)) return `${kind} (normal)`;
    return kind;
  }

  function varTable(rows) {
    const table = R.el("div", { class: "table-wrap" });
    rows = rows.map((r) => ({ ...r, label: methodLabel(r.method) }));
    R.sortableTable(table, [
      { key: "label", label: "Method", render: (r) => R.el("span", { title: r.method, text: r.label }) },
      { key: "level", label: "Confidence", format: (c) => `${Math.round(c * 100)}%` },
      { key: "horizon_days", label: "Horizon", format: (d) => `${d} day${d === 1 ? "" : "s"}` },
      { key: "var_share", label: "VaR", numeric: true, format: share },
      { key: "var_amount", label: "VaR (USD)", numeric: true, format: (x) => money(x) },
      { key: "es_share", label: "Expected shortfall", numeric: true, format: share },
      { key: "es_amount", label: "ES (USD)", numeric: true, format: (x) => money(x) },
    ], rows, { sortKey: false, id: (r) => `${r.method}-${r.level}-${r.horizon_days}` });
    return table;
  }

  function riskFacts(r) {
    const fact = (name, value, title) => [R.el("dt", { text: name }), R.el("dd", { text: value, title: title || "" })];
    const s = r.scores;
    const hhi = (by) => {
      const c = r.concentration.find((x) => x.by === by);
      return c ? [`${c.hhi.toFixed(3)} (≈ ${c.effective_count.toFixed(1)} equal holdings)`, c.method] : ["–"];
    };
    const band = r.forecast
      ? `${money(r.forecast.value)} (95%: ${money(r.forecast.lower_95)} – ${money(r.forecast.upper_95)})`
      : "–";
    return R.el("dl", { class: "facts", id: "risk-facts" },
      ...fact("Composite risk score", s ? score(s.composite) : "not scored", s && s.method),
      ...fact("Sub-scores", s ? `market ${score(s.market)}, credit ${score(s.credit)}, regulatory ${score(s.regulatory)}, technical ${score(s.technical)}` : "–"),
      ...fact("HHI by asset", ...hhi("asset")),
      ...fact("HHI by issuer", ...hhi("issuer")),
      ...fact("HHI by network", ...hhi("network")),
      ...fact("Pegged exposure", r.pegged ? `${share(r.pegged.pegged_share)}; de-peg scenario loss ${money(r.pegged.scenario_loss)}` : "–", r.pegged && r.pegged.method),
      ...fact(`Value in ${r.forecast ? r.forecast.horizon_days : 30} days`, band, r.forecast && r.forecast.method),
    );
  }

  async function risk(parts) {
    if (current === null) return { empty: NO_PORTFOLIO };
    const r = await R.getJson(path("/risk"));
    const window = r.window ? `; ${r.window.returns} joint daily returns ${r.window.start} to ${r.window.end}` : "";
    R.source(parts, `GET ${path("/risk")}${window}`, r.as_of);
    const notes = r.missing.map((m) => R.el("li", { text: m }));
    const methods = [...new Set(r.var.map((v) => v.method))].map((m) => R.el("li", { text: m }));
    const tail = r.var.length ? varTable(r.var) : R.el("p", { class: "empty", text: "No VaR: see below." });
    parts.body.replaceChildren(
      R.el("div", { class: "risk-grid" }, riskFacts(r), tail),
      R.el("ul", { class: "sources" }, ...methods, ...notes),
    );
    return null;
  }

  // --- drawing ---------------------------------------------------------------------------------------

  const panels = { history: valueHistory, allocation, holdings };
  if (document.getElementById("risk")) panels.risk = risk;

  function drawAll(only = panels, withFigures = true) {
    valuationRead = null;
    delete body.dataset.drawn;
    return R.drawPanels(only, withFigures ? [figures().catch((error) => showFiguresError(error))] : []);
  }

  function showFiguresError(error) {
    if (error.status === 401) return;
    kpiBox.dataset.state = "error";
    kpiBox.replaceChildren(R.el("p", { class: "error", text: "Could not load the figures: " + error.message }));
  }

  // --- live ------------------------------------------------------------------------------------------

  // The event carries the new figures: shown at once, then the panels are read again.
  function onUpdate(event) {
    const p = event.payload || {};
    if (p.portfolio_id !== current) return;
    drawFigures(p);
    kpiBox.querySelector("#kpi-value").classList.add("flash");
    announce(`Value now ${usd(p.value)} (total P&L ${signed(p.total_pnl)})`);
    drawAll(panels, false);
  }

  // --- writes: a portfolio, a transaction, a CSV file -----------------------------------------------

  function rejection(error) {
    if (error.status === 422 && Array.isArray(error.detail)) {
      return error.detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return error.message;
  }

  function say(id, text, saved) {
    const box = document.getElementById(id);
    box.className = saved ? "message saved" : "message";
    box.textContent = text;
  }

  document.getElementById("portfolio-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const made = await R.send("POST", "/portfolios", { name: form.elements.name.value.trim(), cost_method: form.elements.cost_method.value });
      form.reset();
      await loadPortfolios(made.id);
      say("portfolio-message", `Created: ${made.name}`, true);
      await show(made.id);
    } catch (error) {
      if (error.status !== 401) say("portfolio-message", "Not created: " + rejection(error));
    }
  });

  function transactionBody(form) {
    const value = (name) => form.elements[name].value.trim();
    const spec = { kind: value("kind"), asset_id: value("asset_id").toLowerCase(), quantity: value("quantity") };
    // datetime-local has no zone: the form says UTC.
    spec.executed_at = new Date(value("executed_at") + "Z").toISOString();
    for (const name of ["price", "fee", "wallet_address", "chain", "note"]) {
      if (value(name)) spec[name] = value(name);
    }
    return spec;
  }

  document.getElementById("transaction-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (current === null) return say("transaction-message", "Create a portfolio first.");
    try {
      const added = await R.send("POST", path("/transactions"), transactionBody(event.target));
      say("transaction-message", `Added: ${added.kind.replace("_", " ")} ${added.quantity} ${added.asset_id}`, true);
      event.target.elements.quantity.value = "";
      await drawAll();
    } catch (error) {
      if (error.status !== 401) say("transaction-message", "Not added: " + rejection(error));
    }
  });

  // The API's report of a refused file (nothing of it was imported): a 422 lists every bad
  // row (loc ["body", row, column]; the header is row 1), a 409 names the row of an oversell.
  function showRowErrors(error) {
    const report = document.getElementById("import-report");
    const rows = Array.isArray(error.detail) ? error.detail : [];
    const where = (loc) => {
      const [, row, column] = loc || [];
      return row === undefined ? "" : `Row ${row}${column ? ` (${column})` : ""}: `;
    };
    report.replaceChildren(
      R.el("p", { class: "what", text: "Nothing imported: " + (rows.length ? `${rows.length} problem(s) in the file` : error.message) }),
      ...rows.slice(0, 50).map((d) => R.el("p", { text: where(d.loc) + d.msg })),
    );
    report.hidden = false;
  }

  document.getElementById("import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const report = document.getElementById("import-report");
    const done = document.getElementById("import-message");
    report.hidden = true;
    done.textContent = "";
    if (current === null) return showRowErrors(new Error("create a portfolio first"));
    const file = event.target.elements.file.files[0];
    if (!file) return;
    try {
      // The file as it is (text/csv): the API reads and checks every row before storing any.
      const answer = await R.call(path("/transactions/import"), {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "text/csv" },
        body: await file.text(),
      });
      const imported = (await answer.json()).imported;
      done.textContent = `Imported ${imported} transaction${imported === 1 ? "" : "s"} from ${file.name}`;
      event.target.reset();
      await drawAll();
    } catch (error) {
      if (error.status !== 401) showRowErrors(error);
    }
  });

  // The form's time starts at now (UTC, as the form says).
  document.querySelector("#transaction-form input[name=executed_at]").value = new Date().toISOString().slice(0, 16);

  // Assets to pick in the form (ids, named by symbol).
  R.assets().then((listed) => {
    document.getElementById("portfolio-assets").replaceChildren(...listed.map((a) => R.el("option", { value: a.asset_id, label: `${a.symbol} · ${a.name}` })));
  }).catch(() => null);

  // The page came with the reader's portfolios in the picker, the asked one selected.
  portfolios = [...picker.options].map((o) => ({ id: Number(o.value), name: o.textContent }));
  current = picker.value ? Number(picker.value) : null;
  if (limit !== null) document.querySelector("#portfolio-form button").title = `${portfolios.length} of ${limit} portfolios`;
  drawAll();
  R.live(["portfolio_update"], onUpdate);
})();
