// The screener: pick assets (?assets=a,b,c), compare their normalised performance, realised
// volatility and drawdown over the range, and risk and sentiment side by side.
"use strict";

(() => {
  const R = RWA;
  const MAX_PICKED = 8;
  let data = null;

  function picked() {
    const asked = new URLSearchParams(location.search).get("assets");
    return asked ? asked.split(",").filter(Boolean).slice(0, MAX_PICKED) : null;
  }

  function setPicked(ids) {
    const url = new URL(location.href);
    url.searchParams.set("assets", ids.join(","));
    history.replaceState(null, "", url);
  }

  async function fetchAll(ids) {
    const days = R.rangeDays();
    const perAsset = ids.map(async (id) => {
      const base = "/assets/" + encodeURIComponent(id);
      const [ohlcv, features, sentiment] = await Promise.all([
        R.getJson(base + "/ohlcv" + R.query({ resolution: "1d", limit: days })),
        R.getJson(base + "/features" + R.query({ limit: days })),
        R.getJson(base + "/sentiment" + R.query({ limit: days })),
      ]);
      return [id, { bars: ohlcv.bars, features: features.features, sentiment: sentiment.days }];
    });
    const risk = R.features.has("risk") ? R.getJson("/risk" + R.query({ limit: 500 })) : Promise.resolve({ scores: [] });
    const [series, scores] = await Promise.all([Promise.all(perAsset), risk]);
    return { series: new Map(series), risk: new Map(scores.scores.map((s) => [s.asset_id, s])) };
  }

  function lines(parts, ids, assets, pick, options = {}) {
    const series = ids
      .map((id) => ({ name: assets.get(id).symbol, type: "line", symbol: "none", data: pick(data.series.get(id)) }))
      .filter((s) => s.data.length);
    if (!series.length) return { empty: "No data for the picked assets in this range." };
    R.timeChart(parts, {
      grid: { left: 56, right: 24, top: 36, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: options.format },
      yAxis: R.valueAxis({ axisLabel: { formatter: options.format } }),
      color: R.palette,
      series,
    });
    return null;
  }

  function compareRows(ids, assets) {
    return ids.map((id) => {
      const d = data.series.get(id);
      const a = assets.get(id);
      const first = d.bars[0];
      const lastBar = d.bars[d.bars.length - 1];
      const lastFeature = d.features[d.features.length - 1] || {};
      const drawdowns = d.features.map((f) => f.drawdown).filter((v) => v !== null);
      const scored = d.sentiment.filter((s) => s.sentiment_score !== null);
      const risk = data.risk.get(id);
      return {
        asset_id: id,
        symbol: a.symbol,
        asset_class: a.asset_class.replace(/_/g, " "),
        close: lastBar ? lastBar.close : null,
        performance: first && lastBar ? lastBar.close / first.close - 1 : null,
        volatility: lastFeature.realized_vol_30d ?? null,
        max_drawdown: drawdowns.length ? Math.min(...drawdowns) : null,
        risk: risk ? risk.composite_score : null,
        sentiment: scored.length ? scored.reduce((s, x) => s + x.sentiment_score, 0) / scored.length : null,
        articles: d.sentiment.reduce((s, x) => s + x.article_count, 0),
      };
    });
  }

  const PANELS = ["performance", "volatility", "drawdown", "compare"];

  function showAll(kind, message) {
    for (const id of PANELS) R.setState(R.panelParts(id), kind, message);
    R.markDrawn();
  }

  async function drawAll(ids, assets) {
    try {
      data = await fetchAll(ids);
    } catch (error) {
      if (!(error instanceof R.ApiError && error.status === 401)) showAll("error", "Could not load: " + error.message);
      return;
    }
    const norm = (d) => (d.bars.length ? d.bars.map((b) => [b.ts, (100 * b.close) / d.bars[0].close]) : []);
    const feature = (key) => (d) => d.features.filter((f) => f[key] !== null).map((f) => [f.ts, f[key]]);
    await R.drawPanels({
      performance: async (parts) => {
        const out = lines(parts, ids, assets, norm, { format: (v) => R.formatNumber(v, 1) });
        R.source(parts, "gold ohlcv_1d closes (GET /assets/{id}/ohlcv)", null);
        return out;
      },
      volatility: async (parts) => {
        const out = lines(parts, ids, assets, feature("realized_vol_30d"), { format: (v) => R.formatPercent(v, 0) });
        R.source(parts, "gold features_daily realized_vol_30d (GET /assets/{id}/features)", null);
        return out;
      },
      drawdown: async (parts) => {
        const out = lines(parts, ids, assets, feature("drawdown"), { format: (v) => R.formatPercent(v, 1) });
        R.source(parts, "gold features_daily drawdown (GET /assets/{id}/features)", null);
        return out;
      },
      compare: async (parts) => {
        R.sortableTable(parts.body, [
          { key: "symbol", label: "Asset", render: (r) => R.assetLink(r) },
          { key: "asset_class", label: "Class" },
          { key: "close", label: "Last close", numeric: true, format: (v) => R.formatUsd(v, 2) },
          { key: "performance", label: "Return over range", numeric: true, format: (v) => R.formatPercent(v) },
          { key: "volatility", label: "Volatility 30d", numeric: true, format: (v) => R.formatPercent(v, 1) },
          { key: "max_drawdown", label: "Max drawdown", numeric: true, format: (v) => R.formatPercent(v, 1) },
          { key: "risk", label: "Risk score", numeric: true, format: (v) => (v === null ? (R.features.has("risk") ? "not scored" : "professional tier") : v) },
          { key: "sentiment", label: "Mean sentiment", numeric: true, format: (v) => R.formatNumber(v, 2) },
          { key: "articles", label: "Articles", numeric: true },
        ], compareRows(ids, assets), { sortKey: "performance", descending: true });
        R.source(parts, "ohlcv, features, sentiment per asset and GET /risk", null);
        return null;
      },
    });
  }

  async function start() {
    const list = await R.assets();
    const assets = new Map(list.map((a) => [a.asset_id, a]));
    let ids = (picked() || list.slice(0, 4).map((a) => a.asset_id)).filter((id) => assets.has(id));
    const picker = document.getElementById("picker");
    for (const a of list) {
      const box = R.el("input", { type: "checkbox", value: a.asset_id, name: "asset" });
      box.checked = ids.includes(a.asset_id);
      picker.append(R.el("label", { title: a.name }, box, R.el("span", { text: " " + a.symbol })));
    }
    picker.addEventListener("change", () => {
      ids = [...picker.querySelectorAll("input:checked")].map((b) => b.value).slice(0, MAX_PICKED);
      setPicked(ids);
      delete document.body.dataset.drawn;
      redraw();
    });
    const redraw = () => {
      if (!ids.length) {
        showAll("empty", "Pick one or more assets above.");
        return Promise.resolve();
      }
      return drawAll(ids, assets);
    };
    R.setupRanges(redraw);
    await redraw();
  }

  start().catch((error) => showAll("error", "Could not load: " + error.message));
})();
