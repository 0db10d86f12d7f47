"""ML outputs, downstream of gold: forecasts, news sentiment and risk scores.

``ml/forecasts`` forecasts 7 and 30 days per asset into ``gold/predictions`` and registers each
model with its metrics; run config ``reselect_orders`` re-chooses every model's order (the
weekly retraining, or a retraining started by degraded live accuracy), otherwise only the
coefficients are re-estimated. Its checks compare the models with the naive forecast and their
95% interval coverage. ``ml/sentiment`` scores the news of the asset-days gold left unscored,
into ``gold/sentiment_daily`` (check ``every_day_scored``); ``ml/risk_scores`` scores every
reference asset as of the latest daily bar, into ``gold/risk_scores`` (check
``every_asset_scored``); ``ml/signals`` backtests each asset's forecast, sentiment and risk
signals over the last 60 days and keeps their readings in ``gold/signals`` (assets with fewer
than 90 daily bars are skipped). The serving load carries all four to the API.
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project import freshness
from dagster_project.assets.gold import gold_key
from dagster_project.assets.results import Materialization
from dagster_project.assets.silver import silver_key
from dagster_project.partitions import fetch_day_asset
from dagster_project.resources import LakehouseResource
from pipelines import steps
from pipelines.contracts.gold import FEATURES_DAILY, OHLCV_TABLES, ONCHAIN_DAILY, SENTIMENT_DAILY
from pipelines.steps import PREDICTIONS_TABLE, RISK_MODEL_VERSION, RISK_TABLE, SIGNALS_TABLE

GROUP = "ml"
RISK_KEY = dg.AssetKey(["ml", "risk_scores"])
FORECASTS_KEY = dg.AssetKey(["ml", "forecasts"])
BEATS_NAIVE = "beats_naive"
INTERVAL_COVERAGE = "interval_coverage"
SENTIMENT_KEY = dg.AssetKey(["ml", "sentiment"])
SIGNALS_KEY = dg.AssetKey(["ml", "signals"])
EVERY_ASSET_SCORED = "every_asset_scored"
EVERY_DAY_SCORED = "every_day_scored"


def risk_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=RISK_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[gold_key(OHLCV_TABLES["1d"]), gold_key(FEATURES_DAILY), gold_key(ONCHAIN_DAILY)],
        check_specs=[dg.AssetCheckSpec(EVERY_ASSET_SCORED, asset=RISK_KEY)],
        kinds={"python", "delta"},
        description="Composite risk 1-100 with market, credit, regulatory and technical "
        "sub-scores per reference asset (docs/risk.md), in gold/risk_scores",
    )
    def risk_scores(context: AssetExecutionContext, lake: LakehouseResource) -> Materialization:
        report = steps.run_risk(lake.lakehouse)
        expected = {asset.asset_id for asset in lake.lakehouse.assets}
        scored = {s.asset_id for s in report.scores if 1 <= s.composite <= 100}
        context.log.info(f"scored {len(scored)} assets as of {report.as_of}")
        return Materialization(
            metadata=lake.table_metadata(lake.lakehouse.paths.gold(RISK_TABLE))
            | {
                "as_of": report.as_of.isoformat(),
                "model_version": RISK_MODEL_VERSION,
                "assets_scored": len(report.scores),
                "without_prices": ", ".join(report.without_prices) or "none",
                "composite_by_asset": dg.MetadataValue.json(
                    {s.asset_id: s.composite for s in report.scores}
                ),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=EVERY_ASSET_SCORED,
                    passed=scored == expected,
                    metadata={"missing": sorted(expected - scored)},
                )
            ],
        )

    return risk_scores


def sentiment_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=SENTIMENT_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[gold_key(SENTIMENT_DAILY), silver_key("news")],
        check_specs=[dg.AssetCheckSpec(EVERY_DAY_SCORED, asset=SENTIMENT_KEY)],
        kinds={"pytorch", "delta"},
        description="News sentiment per asset-day (FinBERT, or the Loughran-McDonald lexicon "
        "without weights) filled into gold/sentiment_daily",
    )
    def sentiment(context: AssetExecutionContext, lake: LakehouseResource) -> Materialization:
        report = steps.run_sentiment(lake.lakehouse)
        context.log.info(f"sentiment scored by {report.model_version}")
        uri = lake.lakehouse.paths.gold(SENTIMENT_DAILY.name)
        unscored = steps.days_not_scored_by(lake.lakehouse, report.model_version)
        return Materialization(
            metadata=lake.table_metadata(uri)
            | {
                "model_version": report.model_version,
                "days_scored": report.days_scored,
                "articles_scored": report.articles_scored,
                "articles_reused": report.articles_reused,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=EVERY_DAY_SCORED,
                    passed=unscored == 0,
                    metadata={"days_not_scored_by_this_model": unscored},
                )
            ],
        )

    return sentiment


class ForecastConfig(dg.Config):
    reselect_orders: bool = False


def forecasts_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=FORECASTS_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[gold_key(OHLCV_TABLES["1d"])],
        check_specs=[
            dg.AssetCheckSpec(BEATS_NAIVE, asset=FORECASTS_KEY),
            dg.AssetCheckSpec(INTERVAL_COVERAGE, asset=FORECASTS_KEY),
        ],
        kinds={"statsmodels", "delta"},
        description="7- and 30-day price forecasts with 80/95% intervals per asset "
        "(gold/predictions); models and their metrics in the lake's model registry",
    )
    def forecasts(
        context: AssetExecutionContext, config: ForecastConfig, lake: LakehouseResource
    ) -> Materialization:
        report = steps.run_forecast(lake.lakehouse, reselect=config.reselect_orders)
        metrics = report.metrics.values()
        beats = sum(1 for m in metrics if m["mase_7d"] <= m["naive_mase_7d"])
        coverage = [m["coverage95_7d"] for m in metrics]
        mean_coverage = sum(coverage) / len(coverage) if coverage else 0.0
        context.log.info(f"{len(report.forecasts)} forecasts; {beats} beat the naive forecast")
        return Materialization(
            metadata=lake.table_metadata(lake.lakehouse.paths.gold(PREDICTIONS_TABLE))
            | {
                "assets_forecast": len(report.forecasts),
                "orders_reselected": config.reselect_orders,
                "skipped": dg.MetadataValue.json(report.skipped),
                "mase_7d_by_asset": dg.MetadataValue.json(
                    {a: round(m["mase_7d"], 3) for a, m in report.metrics.items()}
                ),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=BEATS_NAIVE,
                    passed=beats * 2 >= len(report.metrics),
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"beat_naive": beats, "assets": len(report.metrics)},
                    description="at least half the models beat the naive 7-day forecast "
                    "(rolling-origin MASE)",
                ),
                dg.AssetCheckResult(
                    check_name=INTERVAL_COVERAGE,
                    passed=0.80 <= mean_coverage <= 1.0,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"mean_coverage95_7d": round(mean_coverage, 3)},
                    description="mean 95% interval coverage at 7 days within 80-100%",
                ),
            ],
        )

    return forecasts


def signals_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=SIGNALS_KEY,
        group_name=GROUP,
        **fetch_day_asset(partitions, freshness.DAILY),
        deps=[gold_key(OHLCV_TABLES["1d"]), FORECASTS_KEY, SENTIMENT_KEY],
        kinds={"statsmodels", "delta"},
        description="Forecast, sentiment and risk signals per asset with their backtests "
        "beside buy-and-hold (models/forecast/backtest.py), in gold/signals; nothing trades",
    )
    def signals(context: AssetExecutionContext, lake: LakehouseResource) -> Materialization:
        report = steps.run_signals(lake.lakehouse)
        skipped = len(report.skipped)
        context.log.info(f"signals of {len(report.backtests)} assets, {skipped} skipped")
        return Materialization(
            metadata=lake.table_metadata(lake.lakehouse.paths.gold(SIGNALS_TABLE))
            | {
                "days": report.days,
                "assets": len(report.backtests),
                "rows_written": report.rows_written,
                "skipped": dg.MetadataValue.json(report.skipped),
            }
        )

    return signals
