// The asset page: price candles with volume and the 7- and 30-day forecasts with their 80% and
// 95% bands, NAV and premium, yield vs the T-bill, supply and holders, the risk score and its
// factors, daily sentiment, and the reference facts, each panel with its source and as-of time.
"use strict";

(() => {
  const R = RWA;
  const assetId = document.body.dataset.asset;
  const base = "/assets/" + encodeURIComponent(assetId);

  function seriesOf(rows, key) {
    return rows.filter((r) => r[key] !== null && r[key] !== undefined).map((r) => [r.ts, r[key]]);
  }

  function last(rows) {
    return rows.length ? rows[rows.length - 1] : null;
  }

  // --- price, volume, forecast --------------------------------------------------------------

  function bandSeries(points, horizon, level, color) {
    const stack = `band-${level}-${horizon}`;
    const lower = points.map((p) => [p.target_date, p[`lower_${level}`]]);
    const width = points.map((p) => [p.target_date, p[`upper_${level}`] - p[`lower_${level}`]]);
    const common = { type: "line", stack, symbol: "none", lineStyle: { opacity: 0 }, silent: true };
    return [
      { ...common, name: `${level}% lower ${horizon}d`, data: lower, tooltip: { show: false } },
      {
        ...common,
        name: `${level}% band ${horizon}d`,
        data: width,
        areaStyle: { color, opacity: level === "80" ? 0.28 : 0.14 },
      },
    ];
  }

  function forecastSeries(forecast, color) {
    const h = forecast.horizon_days;
    const points = forecast.predictions;
    return [
      ...bandSeries(points, h, "95", color),
      ...bandSeries(points, h, "80", color),
      {
        name: `Forecast ${h}d`,
        type: "line",
        symbol: "none",
        lineStyle: { color, width: 2, type: "dashed" },
        data: points.map((p) => [p.target_date, p.value]),
      },
    ];
  }

  async function price(parts) {
    const days = R.rangeDays();
    const intraday = days <= 7 && R.features.has("intraday");
    const resolution = intraday ? "1h" : "1d";
    const limit = intraday ? days * 24 : days;
    const horizons = R.features.has("long-horizon") ? [7, 30] : [7];
    const [ohlcv, ...forecasts] = await Promise.all([
      R.getJson(base + "/ohlcv" + R.query({ resolution, limit })),
      ...horizons.map((h) => R.getJson(base + "/predictions" + R.query({ horizon: h }))),
    ]);
    const bars = ohlcv.bars;
    if (!bars.length) return { empty: "No price bars for this asset yet." };
    const withForecast = forecasts.filter((f) => f.predictions.length);
    const colors = { 7: "#d9822b", 30: "#7a5bb5" };
    const names = ["Price", ...withForecast.flatMap((f) => [
      `Forecast ${f.horizon_days}d`, `80% band ${f.horizon_days}d`, `95% band ${f.horizon_days}d`,
    ]), "Volume"];
    R.chart(parts, {
      legend: { data: names, top: 0, type: "scroll" },
      tooltip: { trigger: "axis", axisPointer: { type: "cross" } },
      axisPointer: { link: [{ xAxisIndex: "all" }] },
      grid: [
        { left: 64, right: 24, top: 36, height: "58%" },
        { left: 64, right: 24, top: "76%", height: "14%" },
      ],
      xAxis: [R.timeAxis({ gridIndex: 0 }), R.timeAxis({ gridIndex: 1, axisLabel: { show: false } })],
      yAxis: [R.valueAxis({ gridIndex: 0 }), R.valueAxis({ gridIndex: 1, axisLabel: { formatter: (v) => R.formatNumber(v, 1) } })],
      dataZoom: [{ type: "inside", xAxisIndex: [0, 1] }],
      series: [
        {
          name: "Price",
          type: "candlestick",
          data: bars.map((b) => [b.ts, b.open, b.close, b.low, b.high]),
          itemStyle: { color: "#3a9b6b", color0: "#b54a5b", borderColor: "#3a9b6b", borderColor0: "#b54a5b" },
        },
        ...withForecast.flatMap((f) => forecastSeries(f, colors[f.horizon_days])),
        {
          name: "Volume",
          type: "bar",
          xAxisIndex: 1,
          yAxisIndex: 1,
          data: bars.map((b) => [b.ts, b.volume]),
          itemStyle: { color: "#9fb3c8" },
        },
      ],
    });
    const run = withForecast[0];
    const model = run ? ` · forecast ${run.model_version}, made ${R.formatTime(run.generated_at)}` : " · no forecast yet";
    R.source(parts, `gold ${resolution} bars (GET ${base}/ohlcv)${model}`, last(bars).ts);
    if (!R.features.has("long-horizon")) {
      parts.body.replaceChildren(R.el("p", { class: "hint", text: "30-day forecasts need the professional tier." }));
    }
    return null;
  }

  // --- NAV, premium, yield, supply (the daily market analytics) -------------------------------

  let marketCache = null;
  function market() {
    if (!marketCache) marketCache = R.getJson(base + "/market" + R.query({ limit: R.rangeDays() }));
    return marketCache;
  }

  // "as of" of a panel: the day its newest value was observed, marked stale when it is.
  function marketSource(parts, what, row, asOfKey) {
    const day = row[asOfKey] || row.as_of;
    R.source(parts, `gold market_daily: ${what} (GET ${base}/market)`, day);
    if (row.stale) parts.source.append(R.el("span", { class: "stale", text: " · stale: the last value known, not a current one" }));
  }

  async function nav(parts) {
    const rows = (await market()).days;
    const navs = seriesOf(rows, "nav_usd");
    if (!navs.length) return { empty: "No NAV is published for this asset (not a fund token)." };
    R.timeChart(parts, {
      grid: { left: 64, right: 64, top: 36, bottom: 28 },
      yAxis: [R.valueAxis({ name: "USD" }), R.valueAxis({ name: "premium", axisLabel: { formatter: (v) => R.formatPercent(v, 2) } })],
      series: [
        { name: "NAV", type: "line", symbol: "none", data: navs, color: R.palette[0] },
        { name: "Price", type: "line", symbol: "none", data: seriesOf(rows, "price_usd"), color: R.palette[2], lineStyle: { type: "dashed" } },
        { name: "Premium to NAV", type: "bar", yAxisIndex: 1, data: seriesOf(rows, "premium_to_nav"), color: R.palette[1] },
      ],
    });
    const latest = last(rows);
    parts.body.replaceChildren(
      R.el("p", { class: "figure", text: `NAV ${R.formatUsd(latest.nav_usd, 4)} · price ${R.formatUsd(latest.price_usd, 4)} · premium ${R.formatPercent(latest.premium_to_nav)}` }),
    );
    marketSource(parts, "nav_usd, price_usd, premium_to_nav = price / NAV - 1", latest, "nav_as_of");
    return null;
  }

  async function yieldPanel(parts) {
    const rows = (await market()).days;
    const yields = seriesOf(rows, "yield_7d");
    if (!yields.length) return { empty: "No 7-day yield: the asset's value does not accrue one (or it is paid as new tokens)." };
    R.timeChart(parts, {
      grid: { left: 64, right: 24, top: 36, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v) => R.formatPercent(v) },
      yAxis: R.valueAxis({ axisLabel: { formatter: (v) => R.formatPercent(v, 1) } }),
      series: [
        { name: "7-day yield (annualised)", type: "line", symbol: "none", data: yields, color: R.palette[2] },
        { name: "3-month T-bill", type: "line", symbol: "none", step: "end", data: seriesOf(rows, "tbill_3m"), color: R.palette[5] },
      ],
    });
    const latest = last(rows);
    parts.body.replaceChildren(
      R.el("p", { class: "figure", text: `Yield ${R.formatPercent(latest.yield_7d)} (${latest.yield_method || "–"}) · T-bill ${R.formatPercent(latest.tbill_3m)} · spread ${R.formatPercent(latest.yield_spread)}` }),
    );
    marketSource(parts, "yield_7d over 7 days, annualised, beside FRED DTB3 as known that day", latest, "nav_as_of");
    return null;
  }

  async function supply(parts) {
    const rows = (await market()).days;
    const supplies = seriesOf(rows, "total_supply");
    const holders = seriesOf(rows, "holders");
    if (!supplies.length && !holders.length) return { empty: "No supply or holder data yet." };
    R.timeChart(parts, {
      grid: { left: 64, right: 64, top: 36, bottom: 28 },
      yAxis: [
        R.valueAxis({ name: "supply", axisLabel: { formatter: (v) => R.formatNumber(v, 1) } }),
        R.valueAxis({ name: "holders", axisLabel: { formatter: (v) => R.formatNumber(v, 0) } }),
      ],
      series: [
        { name: "Total supply", type: "line", symbol: "none", areaStyle: { opacity: 0.15 }, data: supplies, color: R.palette[0] },
        { name: "Holders", type: "line", symbol: "none", yAxisIndex: 1, data: holders, color: R.palette[1] },
      ],
    });
    const latest = last(rows);
    parts.body.replaceChildren(
      R.el("p", { class: "figure", text: `Supply ${R.formatNumber(latest.total_supply)} · value ${R.formatUsd(latest.value_usd)} · ${R.formatNumber(latest.holders, 1)} holders` }),
    );
    marketSource(parts, "total_supply, value_usd, holders", latest, "supply_as_of");
    return null;
  }

  // --- risk -----------------------------------------------------------------------------------

  async function risk(parts) {
    if (!R.features.has("risk")) return { empty: "Risk scores with their factors need the professional tier." };
    // The list, not /assets/{id}/risk: an asset not scored yet is then no failed request.
    const page = await R.getJson("/risk" + R.query({ limit: 500 }));
    const score = page.scores.find((s) => s.asset_id === assetId);
    if (!score) return { empty: "Not scored yet (run `rwa risk`, then `rwa load`)." };
    const subs = ["market", "credit", "regulatory", "technical"];
    R.chart(parts, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 96, right: 32, top: 16, bottom: 24 },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: [...subs.map((s) => s + " risk"), "composite"], inverse: true },
      series: [
        {
          name: "Risk score",
          type: "bar",
          data: [...subs.map((s) => score[s + "_risk"]), score.composite_score],
          label: { show: true, position: "right" },
          itemStyle: { color: (p) => (p.dataIndex === 4 ? "#b54a5b" : "#2f6db5") },
        },
      ],
    });
    const factors = R.el("ol", { class: "factors" });
    for (const f of score.top_factors) {
      factors.append(
        R.el("li", {},
          R.el("strong", { text: f.factor.replace(/_/g, " ") }),
          ` (${f.sub_score}): ${f.note} `,
          R.el("span", { class: "muted", text: `+${R.formatNumber(f.contribution, 1)} points` }),
        ),
      );
    }
    parts.body.replaceChildren(
      R.el("p", { class: "figure", text: `Composite ${score.composite_score} / 100 (1 = least risk)` }),
      R.el("h3", { text: "Top factors" }),
      factors,
    );
    R.source(parts, `risk model ${score.model_version} (GET /risk; method: docs/risk.md)`, score.calculated_at);
    return null;
  }

  // --- sentiment --------------------------------------------------------------------------------

  function headlines(articles) {
    const list = R.el("ul", { class: "news" });
    for (const a of articles.slice().reverse()) {
      const score = a.sentiment_score === null ? "not scored" : R.formatNumber(a.sentiment_score, 2);
      list.append(
        R.el("li", { "data-id": a.article_id },
          a.url ? R.el("a", { href: a.url, rel: "noreferrer", text: a.title }) : R.el("span", { text: a.title }),
          R.el("div", { class: "muted", text: `${R.formatTime(a.ts)} · ${a.outlet || "unknown outlet"} · sentiment ${score}` }),
        ),
      );
    }
    return list;
  }

  async function sentiment(parts) {
    const [answer, news] = await Promise.all([
      R.getJson(base + "/sentiment" + R.query({ limit: R.rangeDays() })),
      R.getJson(base + "/news" + R.query({ limit: 6 })),
    ]);
    const days = answer.days;
    if (!days.length) return { empty: "No news has named this asset in the range." };
    R.timeChart(parts, {
      grid: { left: 48, right: 48, top: 36, bottom: 28 },
      yAxis: [R.valueAxis({ min: -1, max: 1, name: "score" }), R.valueAxis({ name: "articles", minInterval: 1 })],
      series: [
        {
          name: "Sentiment",
          type: "bar",
          data: seriesOf(days, "sentiment_score"),
          itemStyle: { color: (p) => (p.value[1] >= 0 ? "#3a9b6b" : "#b54a5b") },
        },
        { name: "Articles", type: "line", yAxisIndex: 1, symbolSize: 4, data: seriesOf(days, "article_count"), color: R.palette[5] },
      ],
    });
    const latest = last(days);
    parts.body.replaceChildren(
      R.el("p", { class: "figure", text: `Latest day: score ${R.formatNumber(latest.sentiment_score, 2)} over ${latest.article_count} article(s)` }),
      R.el("h3", { text: "Latest headlines" }),
      news.articles.length ? headlines(news.articles) : R.el("p", { class: "empty", text: "No headline served." }),
    );
    R.source(parts, `gold sentiment_daily, ${latest.model_version || "not scored"} (GET ${base}/sentiment, ${base}/news)`, latest.ts);
    return null;
  }

  // --- reference facts ------------------------------------------------------------------------

  function yesNo(value) {
    return value === null || value === undefined ? "unknown" : value ? "yes" : "no";
  }

  async function facts(parts) {
    const a = await R.getJson(base);
    const redemption = a.redemption
      ? [a.redemption.frequency, a.redemption.settlement, a.redemption.minimum_usd ? "min " + R.formatUsd(a.redemption.minimum_usd) : null].filter(Boolean).join(", ")
      : null;
    const rows = [
      ["Issuer", a.issuer_name],
      ["Jurisdiction", a.jurisdiction],
      ["Legal structure", a.legal_structure],
      ["Regulator", a.regulator],
      ["Backed by", a.underlying_asset_details],
      ["KYC required", yesNo(a.kyc_required)],
      ["Transfer restrictions", a.transfer_restrictions],
      ["Redemption", redemption],
      ["Audits", a.audits.map((x) => [x.auditor, x.year, x.scope].filter(Boolean).join(" ")).join("; ") || null],
      ["Oracle", a.oracle],
      ["Upgradeable contract", yesNo(a.upgradeable_contract)],
      ["Launched", a.launch_date],
      ["Chains", a.chains.join(", ") || a.blockchain_network],
      ["Contract", a.contract_address],
    ];
    const list = R.el("dl", { class: "facts" });
    for (const [label, value] of rows) {
      list.append(R.el("dt", { text: label }), R.el("dd", { class: value ? "" : "unknown", text: value || "unknown" }));
    }
    const evidence = a.evidence || {};
    const flags = R.el("dl", { class: "facts evidence" });
    for (const [key, label] of [
      ["attestations", "Attestations published"],
      ["redeemable", "Redeemable with the issuer"],
      ["transferable", "Transferable to any address"],
      ["kyc_to_mint_redeem", "KYC to mint / redeem"],
      ["self_custody", "Self-custody"],
      ["cex_listed", "Listed on a CEX"],
    ]) {
      const value = yesNo(evidence[key]);
      flags.append(R.el("dt", { text: label }), R.el("dd", { class: value === "unknown" ? "unknown" : "flag-" + value, "data-flag": key, text: value }));
    }
    const evidenceSources = (evidence.sources || []).length ? ` (sources: ${evidence.sources.join(", ")})` : "";
    const sources = R.el("ul", { class: "sources" });
    for (const url of a.sources) sources.append(R.el("li", {}, R.el("a", { href: url, rel: "noreferrer", text: url })));
    parts.body.replaceChildren(
      list,
      R.el("h3", { text: "Evidence flags" + evidenceSources }),
      flags,
      R.el("h3", { text: "Sources" }),
      a.sources.length ? sources : R.el("p", { class: "muted", text: "No source listed." }),
    );
    R.source(parts, `reference catalogue pipelines/reference/assets.json (GET ${base})`, null);
    return null;
  }

  function draw() {
    marketCache = null;
    return R.drawPanels({ price, nav, yield: yieldPanel, supply, risk, sentiment, facts });
  }

  // The live price (price_update events of this asset), under the page's title.
  function livePrice(event) {
    const p = event.payload;
    if (p.asset_id !== assetId || typeof p.price !== "number") return;
    const line = document.getElementById("live-price");
    const change = typeof p.change_pct === "number"
      ? R.el("span", { class: p.change_pct >= 0 ? "up" : "down", text: ` ${p.change_pct >= 0 ? "+" : ""}${p.change_pct.toFixed(2)}%` })
      : null;
    line.replaceChildren(`Live: ${R.formatUsd(p.price, 4)}`, change, R.el("span", { class: "muted", text: ` · bar of ${R.formatTime(p.bar_ts || event.ts)}` }));
    line.dataset.price = String(p.price);
    line.hidden = false;
  }

  R.setupRanges(draw);
  draw();
  R.live(["price_update"], livePrice);
})();
