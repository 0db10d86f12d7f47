// The admins' status page: one request (GET /admin/pipeline) feeds every panel.
"use strict";

(() => {
  const R = RWA;
  let status = null;
  const load = () => (status = status || R.getJson("/admin/pipeline"));
  const SOURCE = "the lake's Delta logs, silver/reconciliation, silver/quarantine, the model registry (GET /admin/pipeline)";

  const when = (v) => (v ? R.formatTime(v) : "–");
  const count = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en"));

  async function tables(parts) {
    const s = await load();
    const rows = s.tables.map((t) => ({ ...t, asset_id: t.table }));
    if (!rows.some((t) => t.exists)) return { empty: "No pipeline run recorded yet: run `rwa demo` (or the Dagster jobs)." };
    R.sortableTable(parts.body, [
      { key: "layer", label: "Layer" },
      { key: "table", label: "Table" },
      { key: "rows", label: "Rows", numeric: true, format: count },
      { key: "version", label: "Version", numeric: true, format: count },
      { key: "last_run", label: "Last run (commit)", format: when },
      { key: "operation", label: "Operation" },
      { key: "newest", label: "Newest data", render: (r) => R.el("span", {}, r.newest ? String(r.newest).slice(0, 19).replace("T", " ") : "–", r.stale ? R.el("span", { class: "stale", text: " stale" }) : null) },
    ], rows, { sortKey: false });
    R.source(parts, SOURCE, s.generated_at);
    return null;
  }

  async function quarantine(parts) {
    const q = (await load()).quarantine;
    if (!q.total) return { empty: "Nothing quarantined." };
    const table = R.el("div");
    R.sortableTable(table, [
      { key: "dataset", label: "Dataset" },
      { key: "reason", label: "Reason" },
      { key: "rows", label: "Rows", numeric: true, format: count },
    ], q.reasons, { sortKey: "rows", descending: true });
    parts.body.replaceChildren(R.el("p", { class: "figure", text: `${count(q.total)} rows quarantined` }), table);
    R.source(parts, "silver/quarantine (`rwa quarantine list` for whole objects)", null);
    return null;
  }

  async function batches(parts) {
    const b = (await load()).silver_batches;
    if (!b.length) return { empty: "No silver batch recorded yet." };
    R.sortableTable(parts.body, [
      { key: "dataset", label: "Dataset" },
      { key: "batches", label: "Batches", numeric: true, format: count },
      { key: "last_batch_at", label: "Last batch", format: when },
      { key: "records_in", label: "Records in", numeric: true, format: count },
      { key: "inserted", label: "Inserted", numeric: true, format: count },
      { key: "quarantined", label: "Quarantined", numeric: true, format: count },
    ], b);
    R.source(parts, "silver/reconciliation", null);
    return null;
  }

  async function coverage(parts) {
    const weeks = (await load()).accuracy_by_week;
    if (!weeks.length) return { empty: "No forecast has reached its target day yet: live accuracy appears a week after the first forecast." };
    const nominal = (y, label) => ({ silent: true, symbol: "none", lineStyle: { type: "dotted" }, label: { formatter: label }, data: [{ yAxis: y }] });
    R.timeChart(parts, {
      grid: { left: 56, right: 56, top: 36, bottom: 28 },
      yAxis: [
        R.valueAxis({ min: 0, max: 1, name: "coverage", axisLabel: { formatter: (v) => R.formatPercent(v, 0) } }),
        R.valueAxis({ name: "MAE / naive", min: 0 }),
      ],
      series: [
        { name: "80% interval coverage", type: "line", data: weeks.map((w) => [w.week, w.coverage80]), markLine: nominal(0.8, "80%") },
        { name: "95% interval coverage", type: "line", data: weeks.map((w) => [w.week, w.coverage95]), markLine: nominal(0.95, "95%") },
        { name: "MAE / naive MAE", type: "bar", yAxisIndex: 1, data: weeks.map((w) => [w.week, w.mae_ratio]), itemStyle: { opacity: 0.5 } },
      ],
    });
    R.source(parts, "gold predictions (7-day horizon) scored against gold ohlcv_1d closes", weeks[weeks.length - 1].week);
    return null;
  }

  async function models(parts) {
    const list = (await load()).models;
    if (!list.length) return { empty: "No forecasting model in the registry yet: run `rwa forecast`." };
    const ratio = (r) => (r.live_mae !== null && r.live_naive_mae ? r.live_mae / r.live_naive_mae : null);
    const rows = list.map((m) => ({ ...m, ratio: ratio(m), mase: m.backtest.mase_7d ?? m.backtest.mase ?? null }));
    R.sortableTable(parts.body, [
      { key: "asset_id", label: "Asset", render: (r) => R.assetLink(r) },
      { key: "version", label: "Model version" },
      { key: "retrained_at", label: "Last retrained", format: when },
      { key: "why", label: "Why" },
      { key: "mase", label: "Backtest MASE", numeric: true, format: (v) => R.formatNumber(v, 2) },
      { key: "live_points", label: "Live points", numeric: true },
      { key: "ratio", label: "Live MAE / naive", numeric: true, format: (v) => R.formatNumber(v, 2) },
      { key: "live_coverage95", label: "95% coverage", numeric: true, format: (v) => R.formatPercent(v, 0) },
      { key: "degraded", label: "Degraded", render: (r) => (r.degraded ? R.el("strong", { class: "stale", text: "yes" }) : "no") },
    ], rows, { sortKey: "asset_id" });
    R.source(parts, "the model registry (models/ in the lake) and realised closes over the last 28 days", null);
    return null;
  }

  R.drawPanels({ tables, quarantine, batches, coverage, models });
})();
