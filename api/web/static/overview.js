// The overview: the KPI strip with 7-day changes, value by class over time and by network, the
// assets table (sort, filter, CSV), the stablecoin peg monitor and the news of the last week.
// Every panel is one request of the market analytics (docs/api.md, "Market analytics").
"use strict";

(() => {
  const R = RWA;
  let table = null;
  let assetRows = null;

  const assetsPage = () => (assetRows = assetRows || R.getJson("/market/assets" + R.query({ limit: 500 })));

  function change(kpi, percent) {
    const delta = percent ? kpi.change_7d_pct : kpi.change_7d;
    if (delta === null || delta === undefined) return R.el("span", { class: "change", text: "7d: –" });
    const text = percent ? R.formatPercent(delta, 1) : (delta >= 0 ? "+" : "") + R.formatNumber(delta, 2);
    return R.el("span", { class: "change " + (delta >= 0 ? "up" : "down"), text: "7d: " + (delta >= 0 && percent ? "+" : "") + text });
  }

  function kpiTile(label, value, changeNode, title) {
    return R.el("div", { class: "kpi", title: title || "" }, R.el("div", { class: "label", text: label }), R.el("div", { class: "value", text: value }), changeNode);
  }

  async function kpis() {
    const strip = document.getElementById("kpis");
    try {
      const s = await R.getJson("/market/summary");
      if (!s.date) {
        strip.replaceChildren(R.el("p", { class: "empty", text: "Nothing served yet: run `rwa demo`, then reload." }));
        return;
      }
      const pp = (v) => (v === null ? "–" : (v * 100).toFixed(2) + "%");
      const spread = s.treasury_spread.value;
      strip.replaceChildren(
        kpiTile("Total RWA value", R.formatUsd(s.total_value_usd.value), change(s.total_value_usd, true)),
        kpiTile("Holders", R.formatNumber(s.holders.value, 1), change(s.holders, true)),
        kpiTile("Assets", String(s.assets.value ?? "–"), change(s.assets, false), s.stale_assets ? `${s.stale_assets} stale asset(s) left out` : ""),
        kpiTile("Treasury yield vs T-bill", `${pp(s.treasury_yield_7d.value)} / ${pp(s.tbill_3m.value)}`, R.el("span", { class: "change", text: "spread " + (spread === null ? "–" : (spread * 1e4).toFixed(0) + " bp") })),
        kpiTile("Stablecoin supply", R.formatUsd(s.stablecoin_supply_usd.value), change(s.stablecoin_supply_usd, true)),
      );
      document.getElementById("as-of").textContent =
        `As of ${s.date} (UTC); ${s.stale_assets} stale asset(s) counted apart. Source: gold market_daily (GET /market/summary).`;
      strip.dataset.state = "ready";
    } catch (error) {
      strip.replaceChildren(R.el("p", { class: "error", text: "Could not load the key figures: " + error.message }));
      strip.dataset.state = "error";
    }
  }

  function interval(days) {
    return days <= 90 ? "day" : days <= 365 ? "week" : "month";
  }

  async function composition(parts) {
    const days = R.rangeDays();
    const every = interval(days);
    const limit = every === "day" ? days : every === "week" ? Math.ceil(days / 7) : Math.ceil(days / 30);
    const answer = await R.getJson("/market/history" + R.query({ by: "asset_class", interval: every, limit }));
    const buckets = answer.buckets;
    if (!buckets.length) return { empty: "No market values served yet." };
    const groups = [...new Set(buckets.map((b) => b.group))];
    R.timeChart(parts, {
      grid: { left: 64, right: 24, top: 36, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v) => R.formatUsd(v) },
      yAxis: R.valueAxis({ axisLabel: { formatter: (v) => R.formatUsd(v, 0) } }),
      color: R.palette,
      series: groups.map((g) => ({
        name: (g || "unknown").replace(/_/g, " "),
        type: "line",
        stack: "value",
        symbol: "none",
        areaStyle: {},
        data: buckets.filter((b) => b.group === g).map((b) => [b.ts, b.value_usd]),
      })),
    });
    R.source(parts, `current assets' value_usd, last value per ${every} (GET /market/history)`, buckets[buckets.length - 1].last_day);
    return null;
  }

  async function networks(parts) {
    const answer = await R.getJson("/market/breakdown" + R.query({ by: "network" }));
    const groups = answer.groups.filter((g) => g.value_usd);
    if (!groups.length) return { empty: "No market values served yet." };
    R.chart(parts, {
      tooltip: { trigger: "item", valueFormatter: (v) => R.formatUsd(v) },
      legend: { orient: "vertical", left: 0, top: "middle", type: "scroll" },
      color: R.palette,
      series: [
        {
          name: "Value by network",
          type: "pie",
          radius: ["40%", "70%"],
          center: ["62%", "50%"],
          label: { formatter: "{b}: {d}%" },
          data: groups.map((g) => ({ name: g.group, value: g.value_usd })),
        },
      ],
    });
    R.source(parts, "value_usd by primary network (GET /market/breakdown?by=network)", answer.date);
    return null;
  }

  const COLUMNS = [
    { key: "symbol", label: "Asset", render: (r) => R.el("span", {}, R.assetLink(r), r.stale ? R.el("span", { class: "stale", title: `last value ${r.as_of}`, text: " stale" }) : null) },
    { key: "asset_class", label: "Class", format: (v) => v.replace(/_/g, " ") },
    { key: "network", label: "Network" },
    { key: "price_usd", label: "Price", numeric: true, format: (v) => R.formatUsd(v, 4) },
    { key: "nav_usd", label: "NAV", numeric: true, format: (v) => R.formatUsd(v, 4) },
    { key: "premium_to_nav", label: "Premium", numeric: true, format: (v) => R.formatPercent(v) },
    { key: "yield_7d", label: "Yield 7d", numeric: true, format: (v) => R.formatPercent(v) },
    { key: "value_usd", label: "Value", numeric: true, format: (v) => R.formatUsd(v) },
    { key: "holders", label: "Holders", numeric: true, format: (v) => R.formatNumber(v, 1) },
    { key: "risk_score", label: "Risk", numeric: true },
    { key: "sentiment_7d", label: "Sentiment 7d", numeric: true, format: (v) => R.formatNumber(v, 2) },
    { key: "value_change_7d", label: "7d change", numeric: true, format: (v) => R.formatPercent(v, 1) },
  ];
  const CSV_COLUMNS = [
    "asset_id", "symbol", "name", "asset_class", "network", "issuer_name", "price_usd", "nav_usd",
    "premium_to_nav", "yield_7d", "value_usd", "holders", "risk_score", "sentiment_7d",
    "value_change_7d", "as_of", "stale",
  ].map((key) => ({ key }));

  function filterOf(text, assetClass) {
    const wanted = text.trim().toLowerCase();
    return (row) =>
      (!assetClass || row.asset_class === assetClass) &&
      (!wanted || [row.symbol, row.name, row.issuer_name || "", row.asset_id].some((v) => v.toLowerCase().includes(wanted)));
  }

  async function assets(parts) {
    const page = await assetsPage();
    if (!page.assets.length) return { empty: "No asset is served yet: run `rwa demo`." };
    const text = document.getElementById("asset-filter");
    const select = document.getElementById("class-filter");
    const counter = document.getElementById("asset-count");
    for (const c of [...new Set(page.assets.map((a) => a.asset_class))].sort()) {
      select.append(R.el("option", { value: c, text: c.replace(/_/g, " ") }));
    }
    table = R.sortableTable(parts.body, COLUMNS, page.assets, { sortKey: "value_usd", descending: true });
    const refilter = () => {
      table.setFilter(filterOf(text.value, select.value));
      counter.textContent = `${table.visible().length} of ${page.assets.length} assets`;
    };
    text.addEventListener("input", refilter);
    select.addEventListener("change", refilter);
    document.getElementById("export-csv").addEventListener("click", () => {
      R.download(`rwa-assets-${page.date}.csv`, R.toCsv(CSV_COLUMNS, table.visible()));
    });
    refilter();
    const withheld = page.withheld.length ? ` · withheld for your tier: ${page.withheld.join(", ")}` : "";
    R.source(parts, `gold market_daily, latest risk scores and news sentiment (GET /market/assets)${withheld}`, page.date);
    return null;
  }

  async function peg(parts) {
    // The page lists the served stablecoins: their bars are asked for at once, beside the
    // assets table (their symbols and latest prices).
    const ids = (document.body.dataset.stablecoins || "").split(" ").filter(Boolean);
    if (!ids.length) return { empty: "No stablecoin is served." };
    const days = R.rangeDays();
    const intraday = days <= 7 && R.features.has("intraday");
    const resolution = intraday ? "1h" : "1d";
    const bars = ids.map((id) => R.getJson(`/assets/${encodeURIComponent(id)}/ohlcv` + R.query({ resolution, limit: intraday ? days * 24 : days })));
    const [listed, answers] = await Promise.all([assetsPage(), Promise.all(bars)]);
    const byId = new Map(listed.assets.map((a) => [a.asset_id, a]));
    const stablecoins = ids.map((id) => byId.get(id) || { asset_id: id, symbol: id.toUpperCase(), price_usd: null });
    const band = (low, high, opacity) => [{ yAxis: low, itemStyle: { color: `rgba(58, 155, 107, ${opacity})` } }, { yAxis: high }];
    const series = stablecoins.map((a, i) => ({ name: a.symbol, type: "line", symbol: "none", data: answers[i].bars.map((b) => [b.ts, b.close]) }));
    series[0].markArea = { silent: true, data: [band(0.99, 1.01, 0.08), band(0.995, 1.005, 0.12)] };
    R.timeChart(parts, {
      grid: { left: 64, right: 24, top: 36, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v) => R.formatUsd(v, 4) },
      yAxis: R.valueAxis({ min: (v) => Math.min(v.min, 0.985), max: (v) => Math.max(v.max, 1.015), axisLabel: { formatter: (v) => "$" + v.toFixed(3) } }),
      color: R.palette,
      series,
    });
    const off = stablecoins.filter((a) => a.price_usd !== null && Math.abs(a.price_usd - 1) > 0.005);
    parts.body.replaceChildren(
      R.el("p", { class: off.length ? "figure error" : "figure", text: off.length ? `Off peg (>0.5%): ${off.map((a) => `${a.symbol} ${R.formatUsd(a.price_usd, 4)}`).join(", ")}` : "All stablecoins within 0.5% of $1." }),
    );
    R.source(parts, `${resolution} closes (GET /assets/{id}/ohlcv); bands at ±0.5% and ±1%`, answers[0].bars.length ? answers[0].bars[answers[0].bars.length - 1].ts : null);
    return null;
  }

  async function news(parts) {
    const answer = await R.getJson("/news" + R.query({ limit: 12 }));
    if (!answer.articles.length) return { empty: "No news served yet." };
    const list = R.el("ul", { class: "news" });
    for (const a of answer.articles) {
      const score = a.sentiment_score === null ? "not scored" : `sentiment ${R.formatNumber(a.sentiment_score, 2)}`;
      list.append(
        R.el("li", { "data-id": a.article_id },
          a.url ? R.el("a", { href: a.url, rel: "noreferrer", text: a.title }) : R.el("span", { text: a.title }),
          R.el("div", { class: "muted" },
            `${R.formatTime(a.ts)} · ${a.outlet || "unknown outlet"} · ${score} · `,
            ...a.asset_ids.flatMap((id, i) => [i ? ", " : "", R.assetLink({ asset_id: id })]),
          ),
        ),
      );
    }
    parts.body.replaceChildren(list);
    R.source(parts, "silver news with gold headline sentiment (GET /news)", answer.articles[0].ts);
    return null;
  }

  function draw() {
    assetRows = null;
    return R.drawPanels({ composition, networks, assets, peg, news }, [kpis()]);
  }

  // Live prices (price_update events): the assets table's price follows them.
  const PRICE_COLUMN = COLUMNS.findIndex((c) => c.key === "price_usd") + 1;
  async function livePrice(event) {
    const { asset_id: id, price } = event.payload;
    if (!table || typeof price !== "number") return;
    const row = (await assetsPage()).assets.find((a) => a.asset_id === id);
    if (!row) return;
    row.price_usd = price;
    table.render();
    const cell = document.querySelector(`#assets tr[data-id="${CSS.escape(id)}"] td:nth-child(${PRICE_COLUMN})`);
    if (cell) cell.classList.add("flash");
  }

  R.setupRanges(() => {
    // The table and its controls are built once; a range changes the charts only.
    assetRows = null;
    return R.drawPanels({ composition, peg });
  });
  draw();
  R.live(["price_update"], livePrice);
})();
