"""Regenerate the README's gallery: every figure from a real run (``make figures``).

Each figure is written to ``docs/`` as a small PNG; the command that makes the run behind it is
printed, and the README shows it under the figure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from openbank_sim import load_scenario, plots, simulate
from openbank_sim.experiments import optimize, sweep
from openbank_sim.experiments.sensitivity import sensitivity

OUT = Path(__file__).resolve().parent
DPI = 80


def save(fig, name: str, command: str) -> None:
    path = OUT / f"{name}.png"
    fig.savefig(path, dpi=DPI)
    print(f"{path.relative_to(OUT.parent)}  <-  {command}", flush=True)


def main() -> int:
    t0 = time.perf_counter()
    ecommerce = simulate(load_scenario("ecommerce"))
    save(plots.latency_throughput(ecommerce), "latency_throughput", "openbank-sim run ecommerce")
    save(plots.latency_cdf(ecommerce), "latency_cdf", "openbank-sim run ecommerce")

    noisy = load_scenario("noisy_neighbour")
    global_only = simulate(noisy.with_overrides({"gateway.limits.1.rate": 1_000_000.0}))
    save(
        plots.outcome_mix(global_only, share=True),
        "outcome_mix_global_limit",
        "openbank-sim run noisy_neighbour --set gateway.limits.1.rate=1000000",
    )

    rates = load_scenario("rate_limits").with_overrides({"run.horizon": "2h", "run.warmup": "20m"})
    res = sweep(
        rates,
        vary={"gateway.limits.0.rate": [6.0, 9.0, 12.0], "bank.pools.core.servers": [3, 4, 6]},
        replications=2,
        executor="processes",
        quiet=True,
    )
    summary = res.summary(["calls_rate_limited", "calls_total", "latency_p95_s", "success_rate"])
    command = (
        "openbank-sim sweep rate_limits --set run.horizon=2h --vary "
        "gateway.limits.0.rate=6,9,12 --vary bank.pools.core.servers=3,4,6 "
        "--replications 2 --out results/rate_limits"
    )
    targets = ["latency_p95_s<=1", "calls_rate_limited/calls_total<=0.01"]
    save(
        plots.rate_limit_tradeoff(summary, targets=targets, scenario=rates),
        "rate_limit_tradeoff",
        command,
    )
    save(
        plots.sweep_heatmap(
            summary,
            "gateway.limits.0.rate",
            "bank.pools.core.servers",
            "success_rate",
            target="success_rate>=0.99",
            scenario=rates,
        ),
        "sweep_heatmap",
        command,
    )

    slos = ["latency_mean_s<=0.75", "latency_p95_s<=1", "calls_rate_limited/calls_total<=0.01"]
    opt = optimize(
        load_scenario("rate_limits").with_overrides(
            {"run.horizon": "50m", "gateway.limits.0.burst": 40}
        ),
        vary={
            "gateway.limits.0.rate": [9, 10, 11, 12],
            "bank.pools.core.servers": {"low": 4, "high": 6},
        },
        minimize="bank.pools.core.servers",
        subject_to=slos,
        executor="processes",
        quiet=True,
    )
    save(
        plots.optimization_map(opt, "gateway.limits.0.rate", "bank.pools.core.servers"),
        "optimization_map",
        "openbank-sim optimize rate_limits --set run.horizon=50m --set gateway.limits.0.burst=40 "
        "--vary gateway.limits.0.rate=9,10,11,12 --vary bank.pools.core.servers=4:6 "
        "--minimize bank.pools.core.servers --subject-to ... --out results/opt_rates",
    )

    tva = load_scenario("traditional_vs_api")
    arms = {
        mode: simulate(tva.with_overrides({"onboarding.integration": mode}))
        for mode in ("traditional", "api")
    }
    cmd = "openbank-sim run traditional_vs_api --set onboarding.integration=traditional|api"
    save(plots.break_even(arms), "break_even", cmd)
    save(plots.time_to_market_hist(arms), "time_to_market", cmd)
    save(plots.partners_live(arms), "partners_live", cmd)
    save(plots.onboarding_gantt(arms["traditional"]), "onboarding_gantt_traditional", cmd)

    sal = load_scenario("rate_limits").with_overrides({"run.horizon": "30m", "run.warmup": "10m"})
    sres = sweep(
        sal,
        vary={
            "gateway.limits.0.rate": {"low": 5.0, "high": 14.0},
            "bank.pools.core.servers": {"low": 3, "high": 7, "integer": True},
            "client.max_attempts": {"low": 1, "high": 4, "integer": True},
        },
        design="saltelli",
        n=32,
        executor="processes",
        quiet=True,
    )
    save(
        plots.sensitivity_bars(sensitivity(sres, "success_rate"), "success_rate", scenario=sal),
        "sensitivity_success",
        "openbank-sim sweep rate_limits --design saltelli --n 32 --vary ... ; report",
    )
    storm_figure()
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


def storm_figure() -> None:
    """The retry storm of ``retry_storm`` without a lever and with each client lever."""
    import pandas as pd

    from openbank_sim.analysis.recovery import storm_timeline

    storm = load_scenario("retry_storm").with_overrides({"run.horizon": "14h"})
    arms = {
        "no lever": {},
        "retry budget": {"client.retry_budget": {"ratio": 0.1, "min_per_s": 0.02}},
        "circuit breaker": {"client.circuit_breaker": {}},
        "drop expired": {"bank.pools.core.drop_expired": True},
    }
    timelines = {
        name: storm_timeline(simulate(storm.with_overrides(ov) if ov else storm))
        for name, ov in arms.items()
    }
    day = pd.Timestamp(storm.spec.run.start)
    surge = (day + pd.Timedelta(hours=9), day + pd.Timedelta(hours=10))
    save(
        plots.storm_over_time(timelines, trigger=surge, trigger_label="surge"),
        "retry_storm",
        "openbank-sim run retry_storm --set run.horizon=14h [--set client.retry_budget=... | "
        "client.circuit_breaker={} | bank.pools.core.drop_expired=true]; storm_timeline",
    )


if __name__ == "__main__":
    sys.exit(main())
